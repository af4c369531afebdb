package routes

// losantRoutes are the routes of Losant's application events (losant-event-actions.txt). dialect() puts them on the key API.
var losantRoutes = []Route{}
