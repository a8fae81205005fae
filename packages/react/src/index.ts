/**
 * React hooks and accessible components over `@usertracking/client`: a "My Activities" page, an
 * admin dashboard, and the pieces they are made of — table, filters kept in the URL, details
 * modal, export, stats cards, chart and live counter — themeable with CSS variables
 * (`import '@usertracking/react/styles.css'`). Every export is a client component (`'use client'`),
 * for React 18 and 19 and the Next.js App Router.
 *
 * @packageDocumentation
 * @module @usertracking/react
 */
export { ActivityProvider, useActivityContext } from './context'
export type { ActivityProviderProps } from './context'
export { createFormat, NONE } from './format'
export type { Format } from './format'
export { useActivities } from './use-activities'
export type { ActivitiesQuery, ActivitiesState, UseActivitiesOptions } from './use-activities'
export { useActivityStats } from './use-activity-stats'
export type { ActivityStatsState, UseActivityStatsOptions } from './use-activity-stats'
export { useLiveCount } from './use-live-count'
export type { LiveCountState, UseLiveCountOptions } from './use-live-count'
export { useActivityView, viewQuery } from './use-activity-view'
export type { ActivityView, UseActivityViewOptions } from './use-activity-view'
export { ActivityTable } from './activity-table'
export type { ActivityTableProps } from './activity-table'
export { ActivityFilters } from './activity-filters'
export type { ActivityFiltersProps } from './activity-filters'
export { ActivityDetails } from './activity-details'
export type { ActivityDetailsProps } from './activity-details'
export { MetadataTree } from './metadata-tree'
export type { MetadataTreeProps } from './metadata-tree'
export { ExportButton } from './export-button'
export type { ExportButtonProps } from './export-button'
export { StatsCards } from './stats-cards'
export type { StatsCard, StatsCardsProps } from './stats-cards'
export { ActivityChart } from './activity-chart'
export type { ActivityChartProps, ChartMetric } from './activity-chart'
export { LiveCounter } from './live-counter'
export type { LiveCounterProps } from './live-counter'
export { LiveStatus } from './live-status'
export type { LiveStatusProps } from './live-status'
export { MyActivities } from './my-activities'
export type { MyActivitiesProps } from './my-activities'
export { AdminDashboard } from './admin-dashboard'
export type { AdminDashboardProps } from './admin-dashboard'
