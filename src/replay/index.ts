/** Event-time replay of captured traffic through the engine: summary and HTML report. */
export { runReplay, type ReplayOptions, type ReplayOutcome, type PolicyRunResult } from './run-replay.js';
export { ReplayRun, type ReplayRunOptions } from './replay-run.js';
export { EventTimeClock, latestSpanEnd } from './event-time-clock.js';
export { buildSummary, formatSummaryText, keptDiff, type ReplaySummary, type PolicyFileSummary } from './replay-summary.js';
export { renderHtmlReport, timeBuckets, type ReportOptions } from './html-report.js';
export { ReplayDriver, type ReplayDriverOptions, type ReplayDriverResult } from './replay-driver.js';
export { ReplayAnomalies, alertLines, type ReplayAnomaliesOptions } from './replay-anomalies.js';
export { listInputFiles, detectFormat, type InputFile, type InputFormat } from './input-files.js';
export { readInputRequests, decodeJsonLine, type InputRequest } from './input-reader.js';
export { detectFraming, type Framing, type FramedFile } from './protobuf-framing.js';
export { ReplayRecorder, type TraceRecord } from './replay-recorder.js';
export { ReplayInputError, ReplayUsageError } from './replay-errors.js';
