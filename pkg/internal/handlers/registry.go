package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/jsonbody"
)

// The DeLaval device registry's own API (routes.Registry), for its clients
// unchanged: the same functions and store behind the registry's paths,
// bodies and answers. In AWS it is a REST API reachable only through a
// private endpoint or with IAM signatures, so its requests carry no token:
// its caller may do what the route does, for any device.

// registryPut serves POST /devices/{deviceid}/events and POST /devices (the
// device in the body): every body put-event takes, answered as the
// registry answered, {"message": "Successfully added events for <id>"}.
func (f *Function) registryPut(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	device := ""
	if _, ok := r.PathParams["deviceid"]; ok {
		var err error
		if device, err = deviceID(r); err != nil {
			return apigw.Response{}, err
		}
	}
	res, err := f.put(ctx, r, device)
	if err != nil {
		return apigw.Response{}, err
	}
	return jsonResponse(http.StatusOK, map[string]string{"message": addedMessage(res)}), nil
}

// registryRecord is an event as the registry's GET returned it: the
// function's report (DeLaval body, or any event) with deployment_status
// and description, or a Salt job with its counts and the job return as
// state.
type registryRecord struct {
	SortKey          string          `json:"sort_key"`
	DeviceID         string          `json:"device_id"`
	Function         string          `json:"function"`
	DeploymentStatus *string         `json:"deployment_status,omitempty"`
	Description      *string         `json:"description,omitempty"`
	Succeeded        *json.Number    `json:"succeeded,omitempty"`
	Failed           *json.Number    `json:"failed,omitempty"`
	State            *map[string]any `json:"state,omitempty"`
}

// registrySortKey is the registry's sort key of an event: its time, UTC, to
// the second.
const registrySortKey = "event_2006-01-02-15:04:05"

// maxRegistryEvents bounds the registry's GET, which has no paging: the
// newest events a request may read (at most 1 000, within the read budget
// of one listing), oldest first as the registry listed them.
const maxRegistryEvents = eventstore.MaxLimit

// registryList serves GET /devices/{deviceid}/events: a bare JSON array of
// the device's events as registry records.
func (f *Function) registryList(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	device, err := deviceID(r)
	if err != nil {
		return apigw.Response{}, err
	}
	if err := (params{r}).allowOnly(); err != nil {
		return apigw.Response{}, err
	}
	page, err := f.deps.Store.List(ctx, eventstore.Query{DeviceID: device, Limit: maxRegistryEvents})
	if err != nil {
		return apigw.Response{}, err
	}
	records := make([]registryRecord, 0, len(page.Events))
	for _, e := range slices.Backward(page.Events) {
		records = append(records, asRegistryRecord(e))
	}
	b, err := jsonbody.Marshal(records)
	if err != nil {
		return apigw.Response{}, err
	}
	return apigw.Response{Status: http.StatusOK, Headers: map[string]string{"Content-Type": "application/json"}, Body: b}, nil
}

// asRegistryRecord renders an event as the registry did: a Salt job (its
// data holds the job return and its counts, as put-event stores a Salt
// job) with succeeded, failed and state; anything else as a function's
// report with deployment_status and description.
func asRegistryRecord(e eventstore.Event) registryRecord {
	rec := registryRecord{SortKey: e.Time.UTC().Format(registrySortKey), DeviceID: e.DeviceID, Function: e.Type}
	job, isJob := e.Data["job"].(map[string]any)
	succeeded, okS := e.Data["succeeded"].(json.Number)
	failed, okF := e.Data["failed"].(json.Number)
	if isJob && okS && okF {
		rec.Succeeded, rec.Failed, rec.State = &succeeded, &failed, &job
		return rec
	}
	rec.DeploymentStatus, rec.Description = &e.Status, &e.Text
	return rec
}
