package routes

// lhingsRoutes are the routes of Lhings (lhings-events-retrieve.txt), under its base path /laas/api/v1. dialect() puts them on the key API.
var lhingsRoutes = []Route{}
