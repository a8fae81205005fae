import { createCanonicalTracker, createLogger } from '@usertracking/core'
import { describeTrackerBehaviour } from '@usertracking/testkit'
import { createPageDelivery } from './page-delivery'

// The same suite for both: the page's delivery core keeps what core's tracker promises.
describeTrackerBehaviour('createPageDelivery', (options) => createPageDelivery({ ...options, logger: createLogger(false) }))
describeTrackerBehaviour('createCanonicalTracker', createCanonicalTracker)
