// Package ecosystem tests what users of the Go and AWS ecosystem meet
// first, against a local stack: clients generated from the OpenAPI
// documents by oapi-codegen and ogen with their default options, each
// calling every route (testdata/clients is their module), and the README's
// commands, run as a new user pastes them. It holds tests only.
package ecosystem
