// Package routes is the one route table of the device events service, its
// APIs, and how each function is deployed.
//
// The CDK stack, the local gateway, the handlers and the tests all read this
// table, so a route, its API, its operation, its function and its scope are
// decided here and nowhere else.
package routes

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetlog/device-events/pkg/eventstore"
)

// Function names, which are also the folder names under functions/.
const (
	PutEvent        = "put-event"
	ListEvents      = "list-events"
	AggregateEvents = "aggregate-events"
	PatchEvent      = "patch-event"
	DeleteEvent     = "delete-event"
	// APIKeys manages the device API keys (create, list, revoke).
	APIKeys = "api-keys"
	// AuthorizeKey is the key API's Lambda authorizer: it serves no
	// route, API Gateway calls it before each of the key API's requests.
	AuthorizeKey = "authorize-key"
)

// Functions lists every Lambda function of the service, in a stable order.
var Functions = []string{PutEvent, ListEvents, AggregateEvents, PatchEvent, DeleteEvent, APIKeys, AuthorizeKey}

// OAuth scopes the routes require.
const (
	ScopeRead   = "events/read"
	ScopeWrite  = "events/write"
	ScopeDelete = "events/delete"
	// ScopeAdmin manages the device API keys. A key never carries it: the
	// key API serves no route that needs it.
	ScopeAdmin = "events/admin"
)

// API is one of the APIs the stack puts in front of the functions.
type API string

// The APIs.
const (
	// Events is the device events API of the contract: an HTTP API
	// (payload 2.0) behind a JWT authorizer that checks each route's scope.
	Events API = "events"
	// Registry is the DeLaval device registry's own API, for its clients
	// unchanged: a REST API (payload 1.0) reachable only from inside the
	// network (a private endpoint) or with IAM signatures, so its routes
	// carry no token; its callers have the route's scope, for every
	// device.
	Registry API = "registry"
	// Keys is the key API: an HTTP API (payload 2.0) serving the native
	// routes of Events to callers holding a device API key, checked by a
	// Lambda authorizer (Authorizers) that also checks the route's scope.
	// It is an API of its own because an HTTP API route has one
	// authorizer, and the events API's is the JWT authorizer. Its route
	// keys are the events API's, so a route is named by its API and key.
	Keys API = "keys"
)

// APIs lists the APIs, in a stable order.
var APIs = []API{Events, Registry, Keys}

// Authorizers names the function that authorizes every request of an API
// behind a Lambda authorizer: API Gateway invokes it first, and serves
// the request only if it allows it.
var Authorizers = map[API]string{Keys: AuthorizeKey}

// IsAuthorizer reports whether fn is an authorizer, which serves no route.
func IsAuthorizer(fn string) bool {
	for _, a := range Authorizers {
		if a == fn {
			return true
		}
	}
	return false
}

// Op names what a route does: its operation, the operationId of the route
// in its API's OpenAPI document (pkg/openapi's tests hold the two
// together). The handlers are found by it (pkg/internal/handlers), so that
// the route table is the only list of routes.
type Op string

// The operations of the routes.
const (
	OpPutEvents             Op = "putEvents"
	OpListDeviceEvents      Op = "listDeviceEvents"
	OpGetEvent              Op = "getEvent"
	OpListEvents            Op = "listEvents"
	OpAggregateDeviceEvents Op = "aggregateDeviceEvents"
	OpAggregateEvents       Op = "aggregateEvents"
	OpPatchEvent            Op = "patchEvent"
	OpDeleteEvent           Op = "deleteEvent"
	OpDeleteEvents          Op = "deleteEvents"
	// The registry's operations.
	OpRegistryPutEvents       Op = "registryPutEvents"
	OpRegistryPutEventsOfBody Op = "registryPutEventsOfBody"
	OpRegistryListEvents      Op = "registryListEvents"
	// The device API keys' management.
	OpCreateAPIKey Op = "createApiKey"
	OpListAPIKeys  Op = "listApiKeys"
	OpDeleteAPIKey Op = "deleteApiKey"
)

// Route is one method and path template of one API, served by one
// function.
type Route struct {
	API      API
	Method   string // GET, POST, PUT, PATCH, DELETE
	Path     string // API Gateway template, e.g. /devices/{deviceId}/events
	Op       Op
	Function string
	// Scope is what the route requires of a token or a key (Events,
	// Keys), or what its authenticated caller may do (Registry).
	Scope string
	// Fleet routes act across devices: tokens and keys restricted to some
	// devices may not call them.
	Fleet bool
	// Dialect is the other system whose clients the route serves (its
	// paths, parameters, shapes and errors), "" for the native API and the
	// registry's.
	Dialect Dialect
}

// Dialect is another event API whose clients this service serves
// unchanged but for their base URL and credential: its routes are on the
// key API (Losant's on the events API too, for JWTs), its request and
// answer mapping in pkg/internal/dialects.
type Dialect string

// The dialects.
const (
	Lhings     Dialect = "lhings"
	Cumulocity Dialect = "cumulocity"
	Losant     Dialect = "losant"
	Droplit    Dialect = "droplit"
)

// Dialects lists the dialects, in a stable order.
var Dialects = []Dialect{Lhings, Cumulocity, Losant, Droplit}

// ForDialect returns the routes of one dialect.
func ForDialect(d Dialect) []Route { return where(func(r Route) bool { return r.Dialect == d }) }

// Key is the route key, "METHOD /path/{param}": API Gateway's route key of
// an HTTP API route, and a REST API method's method and resource. Keys are
// unique within an API, so an API and a key name a route (ByKey); the key
// API's are the events API's.
func (r Route) Key() string { return r.Method + " " + r.Path }

// native are the routes of the contract, served by the events API to
// bearer tokens and by the key API to device API keys.
var native = []Route{
	{Method: "POST", Path: "/devices/{deviceId}/events", Op: OpPutEvents, Function: PutEvent, Scope: ScopeWrite},
	{Method: "GET", Path: "/devices/{deviceId}/events", Op: OpListDeviceEvents, Function: ListEvents, Scope: ScopeRead},
	{Method: "GET", Path: "/devices/{deviceId}/events/{eventId}", Op: OpGetEvent, Function: ListEvents, Scope: ScopeRead},
	{Method: "GET", Path: "/events", Op: OpListEvents, Function: ListEvents, Scope: ScopeRead, Fleet: true},
	{Method: "GET", Path: "/devices/{deviceId}/aggregates", Op: OpAggregateDeviceEvents, Function: AggregateEvents, Scope: ScopeRead},
	{Method: "GET", Path: "/aggregates", Op: OpAggregateEvents, Function: AggregateEvents, Scope: ScopeRead, Fleet: true},
	{Method: "PATCH", Path: "/devices/{deviceId}/events/{eventId}", Op: OpPatchEvent, Function: PatchEvent, Scope: ScopeWrite},
	{Method: "DELETE", Path: "/devices/{deviceId}/events/{eventId}", Op: OpDeleteEvent, Function: DeleteEvent, Scope: ScopeDelete},
	{Method: "DELETE", Path: "/devices/{deviceId}/events", Op: OpDeleteEvents, Function: DeleteEvent, Scope: ScopeDelete},
}

// All is the route table.
var All = slices.Concat(
	on(Events, native),
	[]Route{
		// The keys are managed with a bearer token of events/admin, on the
		// events API only: a key cannot make keys. The routes act across
		// devices.
		{API: Events, Method: "POST", Path: "/apikeys", Op: OpCreateAPIKey, Function: APIKeys, Scope: ScopeAdmin, Fleet: true},
		{API: Events, Method: "GET", Path: "/apikeys", Op: OpListAPIKeys, Function: APIKeys, Scope: ScopeAdmin, Fleet: true},
		{API: Events, Method: "DELETE", Path: "/apikeys/{keyId}", Op: OpDeleteAPIKey, Function: APIKeys, Scope: ScopeAdmin, Fleet: true},

		// The registry's paths, as its clients call them: its {deviceid} is
		// lower-case.
		{API: Registry, Method: "POST", Path: "/devices/{deviceid}/events", Op: OpRegistryPutEvents, Function: PutEvent, Scope: ScopeWrite},
		{API: Registry, Method: "POST", Path: "/devices", Op: OpRegistryPutEventsOfBody, Function: PutEvent, Scope: ScopeWrite},
		{API: Registry, Method: "GET", Path: "/devices/{deviceid}/events", Op: OpRegistryListEvents, Function: ListEvents, Scope: ScopeRead},
	},
	on(Keys, native),
	// The other systems' dialects, each in its own file, on the key API:
	// their clients hold device API keys.
	dialect(Lhings, lhingsRoutes, Keys),
	dialect(Cumulocity, cumulocityRoutes, Keys),
	// Losant's clients send a token as a bearer token, an API token or a
	// user's JWT: a device API key on the key API, or a JWT on the events
	// API, where its JWT authorizer checks it as it does the native routes'.
	dialect(Losant, losantRoutes, Keys, Events),
	dialect(Droplit, droplitRoutes, Keys),
)

// dialect returns rs as routes of dialect d on each of apis.
func dialect(d Dialect, rs []Route, apis ...API) []Route {
	var out []Route
	for _, api := range apis {
		out = append(out, on(api, rs)...)
	}
	for i := range out {
		out[i].Dialect = d
	}
	return out
}

// on returns rs as routes of api.
func on(api API, rs []Route) []Route {
	out := slices.Clone(rs)
	for i := range out {
		out[i].API = api
	}
	return out
}

// ForAPI returns the routes of one API.
func ForAPI(api API) []Route { return where(func(r Route) bool { return r.API == api }) }

// ForFunction returns the routes one function serves, on every API.
func ForFunction(fn string) []Route { return where(func(r Route) bool { return r.Function == fn }) }

// where returns the routes of the table that keep selects, in its order.
func where(keep func(Route) bool) []Route {
	var out []Route
	for _, r := range All {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// ByKey finds a route of api by its route key ("GET /events").
func ByKey(api API, key string) (Route, bool) {
	for _, r := range All {
		if r.API == api && r.Key() == key {
			return r, true
		}
	}
	return Route{}, false
}

// Match finds the route of an API for a concrete request path. It returns
// the route, the path parameters, and whether the path matched some route
// with another method (so the caller can answer 405 rather than 404). Path
// segments are compared as given: the caller decodes them first.
func Match(api API, method string, segments []string) (route Route, params map[string]string, pathKnown bool) {
	for _, r := range ForAPI(api) {
		p, ok := matchPath(r.Path, segments)
		if !ok {
			continue
		}
		pathKnown = true
		if r.Method == method {
			return r, p, true
		}
	}
	return Route{}, nil, pathKnown
}

// Methods lists the methods an API allows on a concrete path, for the
// Allow header.
func Methods(api API, segments []string) []string {
	var out []string
	for _, r := range ForAPI(api) {
		if _, ok := matchPath(r.Path, segments); ok {
			out = append(out, r.Method)
		}
	}
	return out
}

func matchPath(template string, segments []string) (map[string]string, bool) {
	parts := strings.Split(strings.Trim(template, "/"), "/")
	if len(parts) != len(segments) {
		return nil, false
	}
	params := map[string]string{}
	for i, p := range parts {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if segments[i] == "" {
				return nil, false
			}
			params[p[1:len(p)-1]] = segments[i]
			continue
		}
		if p != segments[i] {
			return nil, false
		}
	}
	return params, true
}

// Access is what one function may do in AWS. The stack grants exactly this,
// so it is kept next to the routes and changed with the store's calls.
type Access struct {
	// TableActions are the DynamoDB actions on the table. A transaction
	// needs the actions of its parts (PutItem, UpdateItem, DeleteItem):
	// IAM has no TransactWriteItems action.
	TableActions []string
	// IndexActions are the DynamoDB actions on each of Indexes. IAM
	// treats an index as a resource of its own, which a grant on the table
	// does not cover.
	IndexActions []string
	// Indexes are the table's global secondary indexes the function reads.
	Indexes []string
	// PageTokenKey: the function signs or checks page tokens and reads the
	// signing key from Secrets Manager.
	PageTokenKey bool
	// KeyPepper: the function hashes API key secrets and reads the pepper
	// of the hash from Secrets Manager.
	KeyPepper bool
}

// Permissions maps each function to its Access.
var Permissions = map[string]Access{
	PutEvent: {
		// GetItem: a retry reads back the events its key stands for.
		TableActions: []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
	},
	// Query on the table also reads events' histories (U#<device> items);
	// on the indexes, the fleet's events of a type and the alarms. The
	// dialects' page numbers and totals read the counters as aggregates
	// do, and so compact them (DeleteItem, UpdateItem: see AggregateEvents).
	ListEvents: {
		TableActions: []string{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:DeleteItem", "dynamodb:UpdateItem"},
		IndexActions: []string{"dynamodb:Query"},
		Indexes:      []string{eventstore.TypeIndex, eventstore.DeviceAlarmIndex, eventstore.FleetAlarmIndex},
		PageTokenKey: true,
	},
	AggregateEvents: {
		// Reads compact the counters they read: a move deletes its sources
		// and updates its targets, a watermark is an update.
		TableActions: []string{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:DeleteItem", "dynamodb:UpdateItem"},
	},
	// A patch reads the event, puts its previous update into the history,
	// updates the event, and reads the history for its answer.
	PatchEvent: {
		TableActions: []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"},
	},
	// A delete's transaction deletes events and updates counters; the
	// events' history items go after it, found by Query and deleted by
	// BatchWriteItem.
	DeleteEvent: {
		TableActions: []string{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:DeleteItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"},
		PageTokenKey: true,
	},
	// A key is created and revoked as two items in one transaction (its
	// lookup item and its listing item); a listing queries the listing
	// items and reads the last-used times of the page's lookup items.
	APIKeys: {
		TableActions: []string{"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:BatchGetItem"},
		PageTokenKey: true,
		KeyPepper:    true,
	},
	// The authorizer reads a key's lookup item and records its last use.
	AuthorizeKey: {
		TableActions: []string{"dynamodb:GetItem", "dynamodb:UpdateItem"},
		KeyPepper:    true,
	},
}

// Deployment is how the stack runs one function, and how the local Lambda
// stand-in (infra/local) runs its bootstrap: the same memory size, timeout
// and environment, so that a limit AWS would enforce is enforced locally.
type Deployment struct {
	MemoryMB int
	// Timeout stays well under API Gateway's 30 s integration limit, so a
	// slow call ends as the function's own 5xx rather than a gateway
	// timeout with nothing in the function's log.
	Timeout time.Duration
}

// Deployments maps each function to its Deployment.
var Deployments = map[string]Deployment{
	PutEvent:        {MemoryMB: 256, Timeout: 10 * time.Second},
	ListEvents:      {MemoryMB: 256, Timeout: 10 * time.Second},
	AggregateEvents: {MemoryMB: 256, Timeout: 10 * time.Second},
	PatchEvent:      {MemoryMB: 256, Timeout: 10 * time.Second},
	DeleteEvent:     {MemoryMB: 256, Timeout: 10 * time.Second},
	APIKeys:         {MemoryMB: 256, Timeout: 10 * time.Second},
	// The authorizer does one read at most: 5 s is far beyond it, and
	// keeps a hung call from holding the request for the 10 s API
	// Gateway gives an authorizer.
	AuthorizeKey: {MemoryMB: 256, Timeout: 5 * time.Second},
}

// The environment variables the stack sets on a function (Lambda adds its
// own: AWS_REGION, the role's credentials, ...).
const (
	// EnvTable names the events table.
	EnvTable = "TABLE_NAME"
	// EnvRetentionDays is how many days an event is kept after its time;
	// 0 keeps events forever.
	EnvRetentionDays = "RETENTION_DAYS"
	// EnvPageTokenSecretARN is the Secrets Manager secret holding the
	// page-token key, for the functions whose Access says PageTokenKey.
	EnvPageTokenSecretARN = "PAGE_TOKEN_SECRET_ARN"
	// EnvKeyPepperSecretARN is the Secrets Manager secret holding the
	// pepper of the API keys' hashes, for the functions whose Access says
	// KeyPepper.
	EnvKeyPepperSecretARN = "KEY_PEPPER_SECRET_ARN"
	// EnvAPIIDs names the API Gateway APIs whose events a function
	// serves, as a comma list of <api>=<id> (events=a1b2c3d4e5): an event
	// whose requestContext.apiId is none of them, or is not the API of its
	// route, did not come through the stack's APIs and is refused (403).
	// Unset accepts any (unit tests).
	EnvAPIIDs = "API_IDS"
)

// Settings are the values a deployment fills the environment with: real
// names in the stack (CloudFormation tokens), local ones in infra/local.
type Settings struct {
	Table              string
	RetentionDays      int
	PageTokenSecretARN string
	KeyPepperSecretARN string
	// APIIDs are the ids of the deployed APIs, by API.
	APIIDs map[API]string
}

// Env returns the environment the stack gives function fn.
func Env(fn string, s Settings) map[string]string {
	env := map[string]string{
		EnvTable:         s.Table,
		EnvRetentionDays: strconv.Itoa(s.RetentionDays),
	}
	if Permissions[fn].PageTokenKey {
		env[EnvPageTokenSecretARN] = s.PageTokenSecretARN
	}
	if Permissions[fn].KeyPepper {
		env[EnvKeyPepperSecretARN] = s.KeyPepperSecretARN
	}
	if ids := FormatAPIIDs(s.APIIDs); ids != "" {
		env[EnvAPIIDs] = ids
	}
	return env
}

// FormatAPIIDs writes the value of API_IDS.
func FormatAPIIDs(ids map[API]string) string {
	var parts []string
	for _, api := range APIs {
		if id, ok := ids[api]; ok {
			parts = append(parts, string(api)+"="+id)
		}
	}
	return strings.Join(parts, ",")
}

// ParseAPIIDs reads API_IDS into the API of each API id.
func ParseAPIIDs(v string) (map[string]API, error) {
	out := map[string]API{}
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		name, id, ok := strings.Cut(part, "=")
		if !ok || id == "" || !slices.Contains(APIs, API(name)) {
			return nil, fmt.Errorf("%s: %q is not <api>=<id> with an API of %v", EnvAPIIDs, part, APIs)
		}
		out[id] = API(name)
	}
	return out, nil
}
