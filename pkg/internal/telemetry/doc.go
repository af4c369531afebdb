// Package telemetry is what the functions tell the outside about their
// work: the CloudWatch metrics on each request's log line (EMF), the
// Lambda request id on every log line, and the X-Ray subsegments of their
// AWS SDK calls.
package telemetry
