package routes

// The operations of Cumulocity's Event API.
const (
	OpCumulocityEventAPI     Op = "cumulocityEventApi"
	OpCumulocityListEvents   Op = "cumulocityListEvents"
	OpCumulocityCreateEvent  Op = "cumulocityCreateEvent"
	OpCumulocityDeleteEvents Op = "cumulocityDeleteEvents"
	OpCumulocityGetEvent     Op = "cumulocityGetEvent"
	OpCumulocityUpdateEvent  Op = "cumulocityUpdateEvent"
	OpCumulocityDeleteEvent  Op = "cumulocityDeleteEvent"
)

// cumulocityRoutes are the routes of Cumulocity's Event API
// (cumulocity-events.md). dialect() puts them on the key API. None is a
// Fleet route: whether a request acts across devices is said by its
// source parameter, or by the device its event id carries, and the
// handlers check it.
var cumulocityRoutes = []Route{
	{Method: "GET", Path: "/event", Op: OpCumulocityEventAPI, Function: ListEvents, Scope: ScopeRead},
	{Method: "GET", Path: "/event/events", Op: OpCumulocityListEvents, Function: ListEvents, Scope: ScopeRead},
	{Method: "POST", Path: "/event/events", Op: OpCumulocityCreateEvent, Function: PutEvent, Scope: ScopeWrite},
	{Method: "DELETE", Path: "/event/events", Op: OpCumulocityDeleteEvents, Function: DeleteEvent, Scope: ScopeDelete},
	{Method: "GET", Path: "/event/events/{id}", Op: OpCumulocityGetEvent, Function: ListEvents, Scope: ScopeRead},
	{Method: "PUT", Path: "/event/events/{id}", Op: OpCumulocityUpdateEvent, Function: PatchEvent, Scope: ScopeWrite},
	{Method: "DELETE", Path: "/event/events/{id}", Op: OpCumulocityDeleteEvent, Function: DeleteEvent, Scope: ScopeDelete},
}
