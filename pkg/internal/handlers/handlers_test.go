package handlers

import (
	"strings"
	"testing"

	"github.com/fleetlog/device-events/pkg/routes"
	"github.com/fleetlog/device-events/pkg/zoneinfo"
)

// operationsOf are the operations each function's main builds it with
// (through pkg/function).
var operationsOf = map[string]func() Operations{
	routes.PutEvent:        PutEventOperations,
	routes.ListEvents:      ListEventsOperations,
	routes.AggregateEvents: AggregateEventsOperations,
	routes.PatchEvent:      PatchEventOperations,
	routes.DeleteEvent:     DeleteEventOperations,
	routes.APIKeys:         APIKeysOperations,
}

// TestEachRouteFindsItsHandlerThroughItsOperation: every function of the
// route table builds with its own operations, serving each of its routes'
// operations and no other, and a route whose operation has no handler
// fails the build rather than a request.
func TestEachRouteFindsItsHandlerThroughItsOperation(t *testing.T) {
	for _, name := range routes.Functions {
		if routes.IsAuthorizer(name) {
			continue // serves no route: pkg/internal/apikeys
		}
		t.Run(name+" builds with its operations, a handler for each of its routes and no other", func(t *testing.T) {
			ops, ok := operationsOf[name]
			if !ok {
				t.Fatalf("no operations for %s", name)
			}
			f, err := NewWith(name, ops(), Deps{Zones: zoneinfo.Load})
			if err != nil {
				t.Fatalf("NewWith(%s): %v, want a function", name, err)
			}
			served := map[routes.Op]bool{}
			for _, r := range routes.ForFunction(name) {
				served[r.Op] = true
				if f.handlers[r.Op] == nil {
					t.Errorf("%s: no handler for %s (%s)", name, r.Op, r.Key())
				}
			}
			for op := range ops() {
				if !served[op] {
					t.Errorf("%s: a handler for %s, which none of its routes has", name, op)
				}
			}
		})
	}
	t.Run("a route whose operation has no handler fails the build", func(t *testing.T) {
		unknown := routes.Route{API: routes.Events, Method: "GET", Path: "/gadgets", Op: "listGadgets", Function: routes.ListEvents, Scope: routes.ScopeRead}
		_, err := build(routes.ListEvents, append(routes.ForFunction(routes.ListEvents), unknown), ListEventsOperations(), Deps{})
		if err == nil || !strings.Contains(err.Error(), "listGadgets") {
			t.Fatalf("build with an unknown operation: %v, want an error naming listGadgets", err)
		}
	})
	t.Run("a function that serves aggregates fails the build without zones", func(t *testing.T) {
		if _, err := New(routes.AggregateEvents, Deps{}); err == nil || !strings.Contains(err.Error(), "Zones") {
			t.Fatalf("New(aggregate-events) without zones: %v, want an error naming Zones", err)
		}
	})
	t.Run("a function the route table does not know fails the build", func(t *testing.T) {
		if _, err := New("make-coffee", Deps{}); err == nil {
			t.Fatal("New(make-coffee) built a function, want an error")
		}
	})
}
