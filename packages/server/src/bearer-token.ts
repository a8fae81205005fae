const encoder = new TextEncoder()

/**
 * Compares in time that depends on the lengths only, not on where the first difference is, so a
 * client cannot find the token one character at a time by timing answers.
 */
function equalInConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  let difference = a.length ^ b.length
  for (let index = 0; index < a.length; index++) difference |= a[index]! ^ (b[index % b.length] ?? 0)
  return difference === 0
}

/**
 * A guard for the metrics route that lets in requests carrying `Authorization: Bearer <token>`:
 * what Prometheus sends with `authorization: { credentials_file: … }` (or the older
 * `bearer_token_file`) in its scrape config.
 *
 * @param token - the secret, at least 16 characters (read it from the environment or a secret file).
 * @throws TypeError when the token is missing or shorter than 16 characters: an unset environment
 * variable must not become an empty, guessable token.
 */
export function bearerToken(token: string | undefined): (request: Request) => boolean {
  if (typeof token !== 'string' || token.length < 16) {
    throw new TypeError('[usertracking] [server] bearerToken needs a secret of at least 16 characters; is the environment variable that holds it set?')
  }
  const expected = encoder.encode(token)
  return (request) => {
    const header = request.headers.get('authorization') ?? ''
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
    return match !== null && equalInConstantTime(encoder.encode(match[1]!), expected)
  }
}
