package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fleetlog/device-events/pkg/eventstore"
	"github.com/fleetlog/device-events/pkg/internal/apierror"
	"github.com/fleetlog/device-events/pkg/internal/apigw"
	"github.com/fleetlog/device-events/pkg/internal/apikeys"
	"github.com/fleetlog/device-events/pkg/internal/jsonbody"
	"github.com/fleetlog/device-events/pkg/internal/timestamp"
	"github.com/fleetlog/device-events/pkg/routes"
)

// The device API keys' management (the api-keys function): POST /apikeys
// makes a key and answers its secret, the only time it is shown; GET
// /apikeys lists the keys, never a secret; DELETE /apikeys/{keyId} revokes
// one. The key API's authorizer (pkg/internal/apikeys) checks the keys.

// Limits of a key's fields.
const (
	maxKeyName    = 128
	maxKeyDevices = 100
)

// keyScopes are the scopes a key may carry: those of the key API's routes.
var keyScopes = []string{routes.ScopeRead, routes.ScopeWrite, routes.ScopeDelete}

// keyJSON is a key as the API writes it.
type keyJSON struct {
	ID string `json:"id"`
	// Key and Secret are answered once, when the key is made.
	Key        string   `json:"key,omitempty"`
	Secret     string   `json:"secret,omitempty"`
	Name       string   `json:"name"`
	Scopes     []string `json:"scopes"`
	Devices    []string `json:"devices,omitempty"`
	CreatedAt  string   `json:"createdAt"`
	ExpiresAt  string   `json:"expiresAt,omitempty"`
	LastUsedAt string   `json:"lastUsedAt,omitempty"`
}

func renderKey(k eventstore.APIKey) keyJSON {
	out := keyJSON{ID: k.ID, Name: k.Name, Scopes: k.Scopes, Devices: k.Devices, CreatedAt: timestamp.FormatISO(k.Created)}
	if !k.Expires.IsZero() {
		out.ExpiresAt = timestamp.FormatISO(k.Expires)
	}
	if !k.LastUsed.IsZero() {
		out.LastUsedAt = timestamp.FormatISO(k.LastUsed)
	}
	return out
}

// createAPIKey serves POST /apikeys: {"name", "scopes", "devices"?,
// "expiresAt"?} makes a key, answered 201 with its secret.
func (f *Function) createAPIKey(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	if err := (params{r}).allowOnly(); err != nil {
		return apigw.Response{}, err
	}
	if err := jsonContent(r, "application/json"); err != nil {
		return apigw.Response{}, err
	}
	now := f.now()
	k, err := decodeNewKey(r.Body, now)
	if err != nil {
		return apigw.Response{}, err
	}
	if f.deps.KeyPepper == nil {
		return apigw.Response{}, errNoKeyPepper
	}
	pepper, err := f.deps.KeyPepper(ctx)
	if err != nil {
		return apigw.Response{}, fmt.Errorf("%w: %w", errNoKeyPepper, err)
	}
	made := apikeys.New(now)
	k.ID, k.Hash, k.Created = made.ID, apikeys.Hash(pepper, made.Secret), now.Truncate(time.Millisecond)
	if err := f.deps.Store.CreateAPIKey(ctx, k); err != nil {
		return apigw.Response{}, err
	}
	out := renderKey(k)
	out.Key, out.Secret = made.String(), made.Secret
	resp := jsonResponse(http.StatusCreated, out)
	// The secret is in this answer alone: no cache may keep it.
	resp.Headers["Cache-Control"] = "no-store"
	return resp, nil
}

var errNoKeyPepper = errors.New("the API keys' pepper is unavailable")

// decodeNewKey reads and checks a POST /apikeys body.
func decodeNewKey(b []byte, now time.Time) (eventstore.APIKey, error) {
	var k eventstore.APIKey
	if err := jsonbody.Check(b); err != nil {
		return k, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil || obj == nil {
		return k, &eventstore.FieldError{Field: "body", Message: "must be a JSON object"}
	}
	for _, name := range slices.Sorted(maps.Keys(obj)) {
		raw := obj[name]
		var err error
		switch name {
		case "name":
			err = decodeKeyName(raw, &k.Name)
		case "scopes":
			k.Scopes, err = decodeKeyList(name, raw, 1, len(keyScopes), checkKeyScope)
		case "devices":
			k.Devices, err = decodeKeyList(name, raw, 1, maxKeyDevices, func(d string) error { return eventstore.CheckDeviceID(name, d) })
		case "expiresAt":
			err = decodeKeyExpiry(raw, now, &k.Expires)
		default:
			err = &eventstore.FieldError{Field: name, Message: "unknown field (allowed: name, scopes, devices, expiresAt)"}
		}
		if err != nil {
			return k, err
		}
	}
	for _, required := range []string{"name", "scopes"} {
		if _, ok := obj[required]; !ok {
			return k, &eventstore.FieldError{Field: required, Message: "required"}
		}
	}
	return k, nil
}

func decodeKeyName(raw json.RawMessage, name *string) error {
	if json.Unmarshal(raw, name) != nil {
		return &eventstore.FieldError{Field: "name", Message: "must be a string"}
	}
	if *name == "" || utf8.RuneCountInString(*name) > maxKeyName {
		return &eventstore.FieldError{Field: "name", Message: fmt.Sprintf("must be 1 to %d characters", maxKeyName)}
	}
	for _, c := range *name {
		if unicode.IsControl(c) || unicode.Is(unicode.Cf, c) {
			return &eventstore.FieldError{Field: "name", Message: fmt.Sprintf("must not contain control or invisible characters (U+%04X)", c)}
		}
	}
	return nil
}

// decodeKeyList reads a list of lo to hi strings, each checked, given
// once each.
func decodeKeyList(field string, raw json.RawMessage, lo, hi int, check func(string) error) ([]string, error) {
	var list []string
	if json.Unmarshal(raw, &list) != nil || list == nil {
		return nil, &eventstore.FieldError{Field: field, Message: "must be an array of strings"}
	}
	if len(list) < lo || len(list) > hi {
		return nil, &eventstore.FieldError{Field: field, Message: fmt.Sprintf("must hold %d to %d items", lo, hi)}
	}
	for i, s := range list {
		if err := check(s); err != nil {
			return nil, &eventstore.FieldError{Field: field + "[" + strconv.Itoa(i) + "]", Message: fieldMessage(err)}
		}
		if slices.Contains(list[:i], s) {
			return nil, &eventstore.FieldError{Field: field + "[" + strconv.Itoa(i) + "]", Message: fmt.Sprintf("%q is given twice", s)}
		}
	}
	return list, nil
}

func fieldMessage(err error) string {
	var fe *eventstore.FieldError
	if errors.As(err, &fe) {
		return fe.Message
	}
	return err.Error()
}

func checkKeyScope(s string) error {
	switch {
	case slices.Contains(keyScopes, s):
		return nil
	case s == routes.ScopeAdmin:
		return errors.New(routes.ScopeAdmin + " is not for keys: keys are managed with a token")
	}
	return fmt.Errorf("%q is not a scope of the key API (%v)", s, keyScopes)
}

func decodeKeyExpiry(raw json.RawMessage, now time.Time, expires *time.Time) error {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return &eventstore.FieldError{Field: "expiresAt", Message: "must be an ISO 8601 time or Unix seconds"}
		}
		s = n.String()
	}
	t, err := timestamp.Parse(s)
	if err != nil {
		return &eventstore.FieldError{Field: "expiresAt", Message: "must be an ISO 8601 time or Unix seconds"}
	}
	if !t.After(now) {
		return &eventstore.FieldError{Field: "expiresAt", Message: "must be in the future"}
	}
	*expires = t.Truncate(time.Millisecond)
	return nil
}

// keysBinding binds the listing's page tokens to it.
const keysBinding = "apikeys"

type keysAnswer struct {
	Keys          []keyJSON `json:"keys"`
	NextPageToken string    `json:"nextPageToken,omitempty"`
	Next          string    `json:"next,omitempty"`
}

// listAPIKeys serves GET /apikeys: the keys, newest first, limit (1 to
// 100, default 100) a page.
func (f *Function) listAPIKeys(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	p := params{r}
	if err := p.allowOnly("limit", "pageToken"); err != nil {
		return apigw.Response{}, err
	}
	limit, err := p.intIn("limit", 1, eventstore.MaxAPIKeyPage, eventstore.MaxAPIKeyPage)
	if err != nil {
		return apigw.Response{}, err
	}
	after := ""
	if tok, ok, err := p.one("pageToken"); err != nil {
		return apigw.Response{}, err
	} else if ok {
		if after, err = f.pageCursorOf(ctx, keysBinding, tok, apikeys.ValidID); err != nil {
			return apigw.Response{}, err
		}
	}
	page, err := f.deps.Store.ListAPIKeys(ctx, limit, after)
	if err != nil {
		return apigw.Response{}, err
	}
	out := keysAnswer{Keys: make([]keyJSON, len(page.Keys))}
	for i, k := range page.Keys {
		out.Keys[i] = renderKey(k)
	}
	if page.Next != "" {
		if out.NextPageToken, err = f.pageToken(ctx, keysBinding, page.Next); err != nil {
			return apigw.Response{}, err
		}
		next := url.Values{"pageToken": {out.NextPageToken}}
		if v, ok := r.Query["limit"]; ok {
			next["limit"] = v
		}
		out.Next = "/apikeys?" + next.Encode()
	}
	return jsonResponse(http.StatusOK, out), nil
}

// deleteAPIKey serves DELETE /apikeys/{keyId}: the key is revoked (204),
// within the authorizer's cache time (apikeys.DefaultCacheTTL).
func (f *Function) deleteAPIKey(ctx context.Context, r *apigw.Request) (apigw.Response, error) {
	if err := (params{r}).allowOnly(); err != nil {
		return apigw.Response{}, err
	}
	id := r.PathParams["keyId"]
	if !apikeys.ValidID(id) {
		return apigw.Response{}, errNoSuchKey
	}
	err := f.deps.Store.DeleteAPIKey(ctx, id)
	if errors.Is(err, eventstore.ErrNoAPIKey) {
		return apigw.Response{}, errNoSuchKey
	}
	if err != nil {
		return apigw.Response{}, err
	}
	return apigw.Response{Status: http.StatusNoContent, Headers: map[string]string{}}, nil
}

var errNoSuchKey = &apierror.Error{Code: apierror.NotFound, Message: "no API key has this id"}
