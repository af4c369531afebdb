package routes

// The operations of Losant's application events.
const (
	OpLosantGetEvent    Op = "losantGetEvent"
	OpLosantPatchEvent  Op = "losantPatchEvent"
	OpLosantDeleteEvent Op = "losantDeleteEvent"
	OpLosantListEvents  Op = "losantListEvents"
	OpLosantPostEvent   Op = "losantPostEvent"
)

// losantRoutes are the routes of Losant's application events
// (losant-event-actions.txt). dialect() puts them on the key API, for
// device API keys, and on the events API, for JWTs.
//
// An event's path names no device: its id carries it (eventstore.GlobalID),
// and the handlers check a device-limited key against it. A listing is
// across devices unless its query names one, which its handler decides.
var losantRoutes = []Route{
	{Method: "GET", Path: "/applications/{applicationId}/events/{eventId}", Op: OpLosantGetEvent, Function: ListEvents, Scope: ScopeRead},
	{Method: "PATCH", Path: "/applications/{applicationId}/events/{eventId}", Op: OpLosantPatchEvent, Function: PatchEvent, Scope: ScopeWrite},
	{Method: "DELETE", Path: "/applications/{applicationId}/events/{eventId}", Op: OpLosantDeleteEvent, Function: DeleteEvent, Scope: ScopeDelete},
	{Method: "GET", Path: "/applications/{applicationId}/events", Op: OpLosantListEvents, Function: ListEvents, Scope: ScopeRead},
	{Method: "POST", Path: "/applications/{applicationId}/events", Op: OpLosantPostEvent, Function: PutEvent, Scope: ScopeWrite},
}
