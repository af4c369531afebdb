package routes

// OpLhingsRetrieveEvents is Lhings' Events.retrieve: an event's journal
// (its times) or its hourly or daily counts.
const OpLhingsRetrieveEvents Op = "lhingsRetrieveEvents"

// lhingsRoutes are the routes of Lhings (lhings-events-retrieve.txt), under
// its base path /laas/api/v1. dialect() puts them on the key API.
//
// The document's {uuid} is {deviceId} here, the name the handlers'
// authorization of device-limited keys reads (a path parameter's name is
// not part of what a client sends). The route is one function's whatever
// its mode: aggregate-events, whose role has what both modes need (the
// journal's page is found from the counters, whose reads compact them).
var lhingsRoutes = []Route{
	{Method: "GET", Path: "/laas/api/v1/devices/{deviceId}/events/{eventName}", Op: OpLhingsRetrieveEvents, Function: AggregateEvents, Scope: ScopeRead},
}
