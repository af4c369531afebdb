package eventsclient

import (
	"encoding/json"
	"fmt"
	"time"
)

// Severity of an event.
type Severity string

// The severities, mildest first.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityError    Severity = "error"
	SeverityCritical Severity = "critical"
)

// State is where an event is in its acknowledge/resolve lifecycle.
type State string

// The lifecycle states.
const (
	StateNew          State = "new"
	StateAcknowledged State = "acknowledged"
	StateResolved     State = "resolved"
)

// NewEvent is an event to store.
type NewEvent struct {
	// Type says what happened, or which function reported it. Required.
	Type string
	// Time is when it happened; zero means when the server stores it.
	Time     time.Time
	Status   string
	Severity Severity // empty means info
	Text     string
	// Data is anything that marshals to a JSON object.
	Data any
	// IdempotencyKey makes this event's retries safe across calls. Without
	// it PutEvents still makes its own retries safe.
	IdempotencyKey string
}

// newEventJSON is a NewEvent as put-event reads it.
type newEventJSON struct {
	DeviceID       string   `json:"deviceId,omitempty"`
	Type           string   `json:"type"`
	Time           string   `json:"time,omitempty"`
	Status         string   `json:"status,omitempty"`
	Severity       Severity `json:"severity,omitempty"`
	Text           string   `json:"text,omitempty"`
	Data           any      `json:"data,omitempty"`
	IdempotencyKey string   `json:"idempotencyKey,omitempty"`
}

func (e NewEvent) wire(device, key string) newEventJSON {
	w := newEventJSON{DeviceID: device, Type: e.Type, Status: e.Status, Severity: e.Severity,
		Text: e.Text, Data: e.Data, IdempotencyKey: key}
	if !e.Time.IsZero() {
		w.Time = e.Time.UTC().Format(time.RFC3339Nano)
	}
	return w
}

// Event is a stored event.
type Event struct {
	ID string `json:"id"`
	// Self is the event's path, relative to the API's base URL.
	Self         string    `json:"self"`
	DeviceID     string    `json:"deviceId"`
	Type         string    `json:"type"`
	Time         time.Time `json:"time"`
	CreationTime time.Time `json:"creationTime"`
	LastUpdated  time.Time `json:"lastUpdated"`
	Status       string    `json:"status,omitempty"`
	Severity     Severity  `json:"severity"`
	State        State     `json:"state"`
	Text         string    `json:"text,omitempty"`
	// Data is the event's JSON object as the server sent it, every digit
	// of its numbers kept; unmarshal it into what fits.
	Data    json.RawMessage `json:"data,omitempty"`
	Updates []Update        `json:"updates"`
	// Version is 1 when stored and grows with every change; it is what
	// PatchEvent and DeleteEvent take as ifMatch.
	Version int64 `json:"version"`
}

// Update is one change of an event's history.
type Update struct {
	Time time.Time `json:"time"`
	// By is who made it: the token's subject, or "lambda".
	By      string                     `json:"by"`
	Changes map[string]json.RawMessage `json:"changes"`
}

// UnmarshalJSON reads an event with its times in either of the API's
// formats (RFC 3339 or Unix milliseconds).
func (e *Event) UnmarshalJSON(b []byte) error {
	var w struct {
		ID           string          `json:"id"`
		Self         string          `json:"self"`
		DeviceID     string          `json:"deviceId"`
		Type         string          `json:"type"`
		Time         apiTime         `json:"time"`
		CreationTime apiTime         `json:"creationTime"`
		LastUpdated  apiTime         `json:"lastUpdated"`
		Status       string          `json:"status"`
		Severity     Severity        `json:"severity"`
		State        State           `json:"state"`
		Text         string          `json:"text"`
		Data         json.RawMessage `json:"data"`
		Updates      []struct {
			Time    apiTime                    `json:"time"`
			By      string                     `json:"by"`
			Changes map[string]json.RawMessage `json:"changes"`
		} `json:"updates"`
		Version int64 `json:"version"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = Event{ID: w.ID, Self: w.Self, DeviceID: w.DeviceID, Type: w.Type, Time: time.Time(w.Time),
		CreationTime: time.Time(w.CreationTime), LastUpdated: time.Time(w.LastUpdated), Status: w.Status,
		Severity: w.Severity, State: w.State, Text: w.Text, Data: w.Data, Version: w.Version,
		Updates: make([]Update, len(w.Updates))}
	for i, u := range w.Updates {
		e.Updates[i] = Update{Time: time.Time(u.Time), By: u.By, Changes: u.Changes}
	}
	return nil
}

// apiTime is a time in an answer: an RFC 3339 string, or Unix milliseconds.
type apiTime time.Time

func (t *apiTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("time %q: %w", s, err)
		}
		*t = apiTime(v.UTC())
		return nil
	}
	var ms int64
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("time %s: neither RFC 3339 nor Unix milliseconds", b)
	}
	*t = apiTime(time.UnixMilli(ms).UTC())
	return nil
}

// PutResult is what put-event answered.
type PutResult struct {
	// Message is the server's summary: "Successfully added events for <device>".
	Message string
	// Events are the stored events, in the order they were given.
	Events []Event
	// Abridged is true when the answer listed the events without their
	// data and text (the whole answer would have passed 1 MiB): they are
	// stored whole, and Client.GetEvent reads each back.
	Abridged bool
	// Status is 201 when this call stored at least one event and 200 when
	// every event had been stored before under the same idempotency key.
	// It is 0 from Direct: a direct invoke's answer does not say.
	Status int
	// Location is the path of the first event (HTTPS only).
	Location string
}

// putAnswer is put-event's answer body.
type putAnswer struct {
	Message  string  `json:"message"`
	Events   []Event `json:"events"`
	Abridged bool    `json:"abridged"`
}

// ListQuery selects events. Every field is optional, except Types when
// DeviceID is empty.
type ListQuery struct {
	// DeviceID limits the listing to one device; empty lists every device's
	// events of the given Types, or without Types the fleet's alarms (then
	// Severities must list only warning, error or critical).
	DeviceID string
	// Types, at most 10.
	Types []string
	// From is inclusive, To exclusive.
	From, To   time.Time
	Status     string
	Severities []Severity
	States     []State
	// Ascending lists oldest first; the default is newest first.
	Ascending bool
	// Limit is the page size, 1–1000; 0 means the server's default (100).
	Limit int
	// PageToken continues a listing from Page.NextPageToken.
	PageToken string
}

// Page is one page of a listing.
type Page struct {
	Events []Event `json:"events"`
	// NextPageToken continues the listing (ListQuery.PageToken); empty on
	// the last page, and only there: a page may hold fewer events than the
	// limit, even none, and still have one (a request reads at most about
	// 1 MB and answers at most 6 MB).
	NextPageToken string `json:"nextPageToken"`
}

// Interval is an aggregate's bucket size.
type Interval string

// The intervals.
const (
	Hour Interval = "hour"
	Day  Interval = "day"
)

// AggregateQuery selects what to count.
type AggregateQuery struct {
	// DeviceID counts one device's events; empty counts every device's
	// events of Types.
	DeviceID string
	// Types are counted together, at most 10; none counts every type (of
	// one device only).
	Types    []string
	Interval Interval
	// From is inclusive, To exclusive; zero leaves the server's default
	// (the last 24 hours for Hour, the last 30 days for Day).
	From, To time.Time
	// TZ is the IANA zone in which days start (Day only); empty means UTC.
	TZ string
}

// Aggregate is the count of events per hour or day.
type Aggregate struct {
	DeviceID string `json:"deviceId"`
	// Type is the types counted, comma-separated; empty for every type.
	Type     string   `json:"type"`
	Interval Interval `json:"interval"`
	TZ       string   `json:"tz"`
	// Buckets are the non-empty buckets, oldest first.
	Buckets []Bucket `json:"buckets"`
	Total   int64    `json:"total"`
}

// Bucket is one hour or day of an Aggregate.
type Bucket struct {
	// Start is the bucket's first instant.
	Start time.Time `json:"start"`
	Count int64     `json:"count"`
}

// UnmarshalJSON reads a bucket with its start in either time format.
func (b *Bucket) UnmarshalJSON(data []byte) error {
	var w struct {
		Start apiTime `json:"start"`
		Count int64   `json:"count"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*b = Bucket{Start: time.Time(w.Start), Count: w.Count}
	return nil
}

// Patch is a change to an event. Zero fields are left as they are.
type Patch struct {
	State    State
	Severity Severity
	// Text and Status, when not nil, replace the event's.
	Text   *string
	Status *string
	// Comment is recorded in the event's history only.
	Comment string
	// Data is merged into the event's data as a JSON merge patch
	// (RFC 7396): a member set to nil is removed.
	Data map[string]any
}

// MarshalJSON writes the patch as the merge patch the server reads.
func (p Patch) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		State    State          `json:"state,omitempty"`
		Severity Severity       `json:"severity,omitempty"`
		Text     *string        `json:"text,omitempty"`
		Status   *string        `json:"status,omitempty"`
		Comment  string         `json:"comment,omitempty"`
		Data     map[string]any `json:"data,omitempty"`
	}{p.State, p.Severity, p.Text, p.Status, p.Comment, p.Data})
}

// BulkDeleteQuery selects a device's events to delete. At least one of
// Types, From, To or All is required.
type BulkDeleteQuery struct {
	Types    []string
	From, To time.Time
	// All deletes every event of the device (within the other filters).
	All bool
	// DryRun counts what would be deleted, deleting nothing.
	DryRun bool
}
