package handlers

import "github.com/fleetlog/device-events/pkg/routes"

// Operations are handlers by the operation they serve.
type Operations map[routes.Op]handler

// The operations of each function, as the route table gives them to it
// (NewWith refuses a list that lacks one; a test holds each list to the
// table). They are functions, not variables, and each main (through
// pkg/function) calls only its own: a binary then links only the handlers
// of its routes, where one table of every handler linked them all (786 KB
// more in the key authorizer, which serves none).

// PutEventOperations are put-event's.
func PutEventOperations() Operations {
	return Operations{
		routes.OpPutEvents:               (*Function).putEvents,
		routes.OpRegistryPutEvents:       (*Function).registryPut,
		routes.OpRegistryPutEventsOfBody: (*Function).registryPut,
		routes.OpCumulocityCreateEvent:   (*Function).cumulocityCreate,
		routes.OpLosantPostEvent:         (*Function).losantPostEvent,
	}
}

// ListEventsOperations are list-events'.
func ListEventsOperations() Operations {
	return Operations{
		routes.OpListDeviceEvents:     (*Function).listDeviceEvents,
		routes.OpGetEvent:             (*Function).getEvent,
		routes.OpListEvents:           (*Function).listFleetEvents,
		routes.OpRegistryListEvents:   (*Function).registryList,
		routes.OpDroplitDeviceHistory: (*Function).droplitHistory,
		routes.OpCumulocityEventAPI:   (*Function).cumulocityEventAPI,
		routes.OpCumulocityListEvents: (*Function).cumulocityList,
		routes.OpCumulocityGetEvent:   (*Function).cumulocityGet,
		routes.OpLosantGetEvent:       (*Function).losantGetEvent,
		routes.OpLosantListEvents:     (*Function).losantListEvents,
	}
}

// AggregateEventsOperations are aggregate-events'.
func AggregateEventsOperations() Operations {
	return Operations{
		routes.OpAggregateDeviceEvents: (*Function).aggregateDevice,
		routes.OpAggregateEvents:       (*Function).aggregateFleet,
		routes.OpLhingsRetrieveEvents:  (*Function).lhingsRetrieve,
	}
}

// PatchEventOperations are patch-event's.
func PatchEventOperations() Operations {
	return Operations{
		routes.OpPatchEvent:            (*Function).patchEvent,
		routes.OpCumulocityUpdateEvent: (*Function).cumulocityUpdate,
		routes.OpLosantPatchEvent:      (*Function).losantPatchEvent,
	}
}

// DeleteEventOperations are delete-event's.
func DeleteEventOperations() Operations {
	return Operations{
		routes.OpDeleteEvent:            (*Function).deleteEvent,
		routes.OpDeleteEvents:           (*Function).deleteEvents,
		routes.OpCumulocityDeleteEvents: (*Function).cumulocityDeleteMatching,
		routes.OpCumulocityDeleteEvent:  (*Function).cumulocityDelete,
		routes.OpLosantDeleteEvent:      (*Function).losantDeleteEvent,
	}
}

// APIKeysOperations are api-keys'.
func APIKeysOperations() Operations {
	return Operations{
		routes.OpCreateAPIKey: (*Function).createAPIKey,
		routes.OpListAPIKeys:  (*Function).listAPIKeys,
		routes.OpDeleteAPIKey: (*Function).deleteAPIKey,
	}
}

// allOperations are every function's, for New.
func allOperations() Operations {
	all := Operations{}
	for _, ops := range []Operations{PutEventOperations(), ListEventsOperations(), AggregateEventsOperations(),
		PatchEventOperations(), DeleteEventOperations(), APIKeysOperations()} {
		for op, h := range ops {
			all[op] = h
		}
	}
	return all
}
