import { createFormat } from '@usertracking/react'
import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react'
import type { DemoUser } from '../server/demo-users'
import type { TailorEvent, TailorInput } from '../server/tailor'
import { onLinkClick } from './navigation'
import { streamTailoring } from './tailor-stream'
import { userTracking } from './user-tracking'

const SAMPLE_JOB: Omit<TailorInput, 'resume'> = {
  jobTitle: 'Data Engineer',
  company: 'Amazon',
  jobDescription:
    'We are looking for a Data Engineer to build streaming pipelines on Kafka and Spark, model data in Redshift, and keep dashboards reliable for analytics teams. Python and SQL required; Airflow a plus.',
}

function sampleResume(user: DemoUser | null): string {
  return [
    user ? user.name.replace(/ \(admin\)$/, '') : 'Alex Morgan',
    '- Built batch pipelines in Python and SQL moving 2 TB a day into a warehouse',
    '- Cut a nightly Airflow job from 3 hours to 40 minutes by partitioning the inputs',
    '- Owned the on-call runbook for the analytics platform and halved its alerts',
    '- Mentored two junior engineers through their first production launches',
  ].join('\n')
}

type Done = Extract<TailorEvent, { done: true }>

const PLANS = [
  { id: 'start-trial', name: 'Free', price: '$0', blurb: '3 tailored resumes a month', action: 'Start free trial' },
  { id: 'upgrade-pro', name: 'Pro', price: '$12', blurb: 'Unlimited resumes and cover letters', action: 'Go Pro' },
  { id: 'contact-sales', name: 'Teams', price: 'Talk to us', blurb: 'Career services for a whole cohort', action: 'Contact sales' },
]

/**
 * The product page: what the script tag records on its own (the page view, clicks on the plans,
 * the forms and their fields getting focus, time on the page), and "Tailor my resume", a server
 * function measured by `withActivity` whose tokens and cost are shown when it ends.
 */
export function ProductPage({ user }: { user: DemoUser | null }) {
  const format = useMemo(() => createFormat(), [])
  const [job, setJob] = useState(SAMPLE_JOB)
  const [resume, setResume] = useState(() => sampleResume(user))
  const [answer, setAnswer] = useState('')
  const [done, setDone] = useState<Done>()
  const [error, setError] = useState<string>()
  const [running, setRunning] = useState(false)
  const [subscribed, setSubscribed] = useState(false)
  const abort = useRef<AbortController>(undefined)
  useEffect(() => () => abort.current?.abort(), [])
  useEffect(() => setResume(sampleResume(user)), [user])

  async function tailor(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    abort.current?.abort()
    const controller = new AbortController()
    abort.current = controller
    setRunning(true)
    setAnswer('')
    setDone(undefined)
    setError(undefined)
    try {
      await streamTailoring(
        { ...job, resume },
        (line) => {
          if ('delta' in line) setAnswer((text) => text + line.delta)
          else if ('done' in line) setDone(line)
          else setError(line.error)
        },
        controller.signal,
      )
    } catch (caught) {
      if ((caught as Error).name !== 'AbortError') setError((caught as Error).message)
    } finally {
      if (abort.current === controller) setRunning(false)
    }
  }

  function subscribe(event: FormEvent<HTMLFormElement>) {
    event.preventDefault()
    setSubscribed(true)
    // Only the page knows the submit worked: the script records the submit itself, this its outcome.
    userTracking()?.track('form_submit_success', 'newsletter')
  }

  const field = (name: keyof typeof SAMPLE_JOB) => ({ value: job[name], onChange: (event: { target: { value: string } }) => setJob({ ...job, [name]: event.target.value }) })

  return (
    <div className="demo-product">
      <section className="demo-hero">
        <h1>Resumes that fit the job</h1>
        <p>Paste a job ad and your resume; Tailor rewrites it to lead with what the job asks for. Every tailoring lands in your activity log with its tokens and cost.</p>
      </section>

      <section className="demo-card" aria-labelledby="tailor-heading">
        <h2 id="tailor-heading">Tailor my resume</h2>
        <form id="tailor-form" className="demo-form" onSubmit={tailor}>
          <div className="demo-row">
            <label>
              Job title
              <input id="job-title" name="jobTitle" required maxLength={120} {...field('jobTitle')} />
            </label>
            <label>
              Company
              <input id="company" name="company" required maxLength={120} {...field('company')} />
            </label>
          </div>
          <label>
            Job description
            <textarea id="job-description" name="jobDescription" required rows={4} maxLength={5000} {...field('jobDescription')} />
          </label>
          <label>
            Your resume
            <textarea id="resume" name="resume" required rows={6} maxLength={8000} value={resume} onChange={(event) => setResume(event.target.value)} />
          </label>
          <div className="demo-actions">
            <button id="tailor-button" type="submit" className="demo-primary" disabled={running || !user} aria-busy={running}>
              {running ? 'Tailoring…' : 'Tailor my resume'}
            </button>
            {!user && <span className="demo-muted">Sign in (top right) to tailor a resume.</span>}
          </div>
        </form>
        <div className="demo-result" aria-live="polite">
          {error && (
            <p className="demo-error" role="alert">
              {error}
            </p>
          )}
          {(answer || running) && <pre className="demo-answer" data-testid="tailored-resume">{answer || 'Waiting for the model…'}</pre>}
          {done && (
            <p className="demo-usage" data-testid="tailor-usage">
              <strong>{format.number(done.tokenUsage?.total)} tokens</strong> ({format.number(done.tokenUsage?.input)} in, {format.number(done.tokenUsage?.output)} out) · cost{' '}
              <strong>{format.cost(done.cost)}</strong> · {format.duration(done.durationMs)} · {done.tokenUsage?.model ?? 'unknown model'} — recorded as{' '}
              <code>resume_generation</code>.{' '}
              <a href="/activities" onClick={onLinkClick('/activities')}>
                See it in My Activities
              </a>
            </p>
          )}
        </div>
      </section>

      <section aria-labelledby="plans-heading">
        <h2 id="plans-heading">Plans</h2>
        <div className="demo-plans">
          {PLANS.map((plan) => (
            <div key={plan.id} className="demo-card demo-plan">
              <h3>{plan.name}</h3>
              <p className="demo-price">{plan.price}</p>
              <p>{plan.blurb}</p>
              <button id={plan.id} type="button" className="demo-secondary">
                {plan.action}
              </button>
            </div>
          ))}
        </div>
      </section>

      <section className="demo-card" aria-labelledby="newsletter-heading">
        <h2 id="newsletter-heading">Job-hunting tips, once a week</h2>
        {subscribed ? (
          <p role="status">Thanks — you are on the list.</p>
        ) : (
          <form id="newsletter" className="demo-inline-form" onSubmit={subscribe}>
            <label>
              Email
              <input id="newsletter-email" name="email" type="email" required autoComplete="email" placeholder="you@example.com" />
            </label>
            <button id="subscribe" type="submit" className="demo-secondary">
              Subscribe
            </button>
          </form>
        )}
      </section>
    </div>
  )
}
