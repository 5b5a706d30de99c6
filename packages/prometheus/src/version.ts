/** This package's version, reported as the OpenTelemetry instrumentation scope version. */
export const VERSION = '0.1.0'
