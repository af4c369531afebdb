package routes

// cumulocityRoutes are the routes of Cumulocity's Event API (cumulocity-events.md). dialect() puts them on the key API.
var cumulocityRoutes = []Route{}
