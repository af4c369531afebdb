package routes

// OpDroplitDeviceHistory is Droplit's device history: a device's records,
// a page at a time.
const OpDroplitDeviceHistory Op = "droplitDeviceHistory"

// droplitRoutes are the routes of Droplit's device history
// (droplit-device-history.txt). dialect() puts them on the key API.
//
// The document's {id} is {deviceId} here, the name the handlers'
// authorization of device-limited keys reads (a path parameter's name is
// not part of what a client sends).
var droplitRoutes = []Route{
	{Method: "GET", Path: "/api/devices/{deviceId}/history", Op: OpDroplitDeviceHistory, Function: ListEvents, Scope: ScopeRead},
}
