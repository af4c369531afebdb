package routes

// droplitRoutes are the routes of Droplit's device history (droplit-device-history.txt). dialect() puts them on the key API.
var droplitRoutes = []Route{}
