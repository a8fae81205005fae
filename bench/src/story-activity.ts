/**
 * App 1's payload (story 1), as the ingest benches send it: without a timestamp, so each request
 * stores a new activity at the time it arrives.
 */
export const STORY_ACTIVITY = {
  userId: 'abc123',
  activityType: 'resume_generation',
  description: 'Tailored resume for Amazon job',
  tokenUsage: 1420,
  timeTaken: 3.2,
  metadata: { jobTitle: 'Data Engineer', resumeLength: '2 pages' },
}
