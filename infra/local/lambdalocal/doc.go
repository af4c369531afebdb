// Package lambdalocal is the local stack's stand-in of the AWS Lambda
// service. It runs each function's real bootstrap (the binary the stack
// deploys, built for this machine's architecture by infra/bootstrap), as
// Lambda runs it on the provided.al2023 runtime, so that what passes
// locally is what runs in AWS; there is no second, in-process wiring of
// the handlers.
//
// # What it mirrors
//
// Instances. An instance (Lambda's execution environment) is one process
// with a Runtime API of its own on 127.0.0.1 (AWS_LAMBDA_RUNTIME_API):
// GET /2018-06-01/runtime/invocation/next, POST .../invocation/{id}/response
// and .../invocation/{id}/error, POST /2018-06-01/runtime/init/error. An
// invoke goes to an idle instance, the most recently used one, or starts a
// new one (a cold start). As in Lambda, an invocation lasts until the
// runtime asks for the next one, and its timeout covers all of it.
//
// Environment. A process gets Lambda's environment, not ours: the
// AWS_LAMBDA_* variables (function name, $LATEST, memory size, log group
// and stream, JSON log format, on-demand initialization, the Runtime API),
// AWS_REGION and AWS_DEFAULT_REGION, AWS_EXECUTION_ENV, _HANDLER=bootstrap,
// LAMBDA_TASK_ROOT (the bootstrap's folder, also the working directory),
// LAMBDA_RUNTIME_DIR, TZ, PATH and LANG as Lambda sets them, and then
// Function.Env: what the stack sets, the role's credentials and the
// AWS_ENDPOINT_URL_* of the local stand-ins, as the caller decides. Env may
// not set a variable Lambda sets.
//
// Limits. Each ends an invoke as Lambda reports it; the errors of Lambda
// itself are worded as in Amazon's aws-lambda-runtime-interface-emulator.
//
//   - Request payload over 6 MB (MaxRequestPayload, 6 291 456 bytes):
//     *InvokeError 413 RequestEntityTooLargeException; nothing runs.
//   - Response payload over 6 MB and 100 bytes (MaxResponsePayload,
//     6 291 556 bytes, the Runtime API's limit): the runtime's POST gets a
//     413, the invoke a function error Function.ResponseSizeTooLarge.
//   - Timeout (Function.Timeout, up to 900 s) after the runtime took the
//     invocation: the instance is killed, as Lambda resets the sandbox, and
//     the invoke is a function error Sandbox.Timedout, "Task timed out
//     after N.NN seconds".
//   - Memory (Function.MemoryMB, 128 to 10 240): the process's VmHWM, read
//     from /proc every 5 ms while it initializes or runs an invocation and
//     once after, over MemoryMB MiB kills the instance, and the invoke is a
//     function error Runtime.OutOfMemory ("Runtime exited with error:
//     signal: killed"). VmHWM is the peak of the process's life, as
//     Lambda's sandbox memory is. Result.PeakMemoryBytes and PeakMemory
//     report it.
//   - A process that exits during init or an invocation: function error
//     Runtime.ExitError ("Runtime exited with error: exit status N").
//   - Init: 10 s (InitTimeout) from the start to the runtime's first
//     request for an invocation, else function error Runtime.InitError;
//     an error the runtime posts to /init/error is the invoke's answer.
//   - Concurrency: more invocations in flight than Function.MaxConcurrency
//     (Lambda's reserved concurrency; DefaultMaxConcurrency, 32, when 0):
//     *InvokeError 429 TooManyRequestsException "Rate Exceeded.", reason
//     ReservedFunctionConcurrentInvocationLimitExceeded.
//   - A function the service does not have: *InvokeError 404
//     ResourceNotFoundException.
//   - New refuses what CreateFunction refuses: a name other than 1 to 64
//     letters, digits, - and _, a memory size or timeout out of range.
//     A timeout under Lambda's 1 s is taken, so that tests time out fast.
//
// Handler serves the Invoke API to the AWS SDKs' Lambda clients. A
// caller that goes away leaves its invocation running, as in Lambda.
// Options.Logs gets every line the processes write, whole lines one Write
// each (CloudWatch Logs' stand-in). Close kills every instance; no process
// outlives the Service, nor the program (Pdeathsig). Linux only.
//
// # What it does not mirror
//
//   - Freeze and thaw: an idle instance is not frozen between invokes; its
//     goroutines run on.
//   - The sandbox: the 250 MB unzipped (50 MB zipped) package limit, the
//     read-only file system, /tmp's size (512 MB to 10 GB of ephemeral
//     storage; /tmp here is the machine's), CPU in proportion to memory,
//     the network (a function reaches what this machine reaches).
//   - Memory as Lambda counts it: the sandbox's cgroup also counts page
//     cache and /tmp files; here only the process's resident set counts.
//   - Scaling: the account's 1000 concurrent executions and the rate at
//     which Lambda adds instances (1000 every 10 s per function); instances
//     live until Close, where Lambda recycles them after minutes idle or
//     hours of use.
//   - After an init timeout, Lambda retries init once within the first
//     invoke's timeout; here that invoke fails.
//   - Asynchronous (Event) invocations, their payload limit, retries and
//     destinations; versions and aliases beyond $LATEST; X-Amz-Log-Type:
//     Tail; response streaming; SnapStart; extensions and the Telemetry
//     API; the START, END and REPORT lines of the platform.
//   - IAM: a function has the credentials Function.Env gives it, and the
//     Invoke API checks no signature.
//   - The 4 KB limit on the environment, and the X-Ray daemon (Lambda sets
//     AWS_XRAY_DAEMON_ADDRESS with active tracing; Function.Env may).
package lambdalocal
