package eventstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

func testKey(id string, devices []string) APIKey {
	return APIKey{ID: id, Name: "door sensor " + id, Scopes: []string{"events/read", "events/write"}, Devices: devices,
		Created: t0, Hash: bytes.Repeat([]byte{7}, 32)}
}

func TestAPIKeysAreStoredReadListedAndRevoked(t *testing.T) {
	ctx := context.Background()
	s, c := newTestStore(t, Options{})

	t.Run("a key reads back as stored, with its hash, in one read unit", func(t *testing.T) {
		k := testKey("k0001", []string{"d1", "d2"})
		k.Expires = t0.Add(24 * time.Hour)
		if err := s.CreateAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		m := &Meter{}
		got, err := s.APIKey(WithMeter(ctx, m), "k0001")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, k) {
			t.Errorf("got %+v, want %+v", got, k)
		}
		if read, _ := m.Units(); read != 1 {
			t.Errorf("the lookup read %v units, want 1 (one strongly consistent GetItem)", read)
		}
	})
	t.Run("a key for any device reads back with nil devices, one for none with an empty list", func(t *testing.T) {
		for _, k := range []APIKey{testKey("k0002", nil), testKey("k0003", []string{})} {
			if err := s.CreateAPIKey(ctx, k); err != nil {
				t.Fatal(err)
			}
			got, err := s.APIKey(ctx, k.ID)
			if err != nil {
				t.Fatal(err)
			}
			if (got.Devices == nil) != (k.Devices == nil) || len(got.Devices) != 0 {
				t.Errorf("%s: devices %#v, want %#v", k.ID, got.Devices, k.Devices)
			}
		}
	})
	t.Run("a taken id is ErrConflict and changes nothing", func(t *testing.T) {
		other := testKey("k0001", nil)
		other.Hash = bytes.Repeat([]byte{8}, 32)
		if err := s.CreateAPIKey(ctx, other); !errors.Is(err, ErrConflict) {
			t.Fatalf("got %v, want ErrConflict", err)
		}
		got, _ := s.APIKey(ctx, "k0001")
		if !bytes.Equal(got.Hash, testKey("", nil).Hash) {
			t.Errorf("the hash changed to %x", got.Hash)
		}
	})
	t.Run("an unknown or malformed id is ErrNoAPIKey", func(t *testing.T) {
		for _, id := range []string{"k9999", "", "K0001", "k0001#x", "../k0001"} {
			if _, err := s.APIKey(ctx, id); !errors.Is(err, ErrNoAPIKey) {
				t.Errorf("APIKey(%q): got %v, want ErrNoAPIKey", id, err)
			}
		}
	})
	t.Run("a use is recorded once an hour at most", func(t *testing.T) {
		for i, c := range []struct {
			at   time.Time
			want time.Time
		}{
			{t0, t0},
			{t0.Add(59 * time.Minute), t0},
			{t0.Add(time.Hour), t0.Add(time.Hour)},
		} {
			if err := s.TouchAPIKey(ctx, "k0001", c.at, time.Hour); err != nil {
				t.Fatal(err)
			}
			got, _ := s.APIKey(ctx, "k0001")
			if !got.LastUsed.Equal(c.want) {
				t.Errorf("use %d at %s: last used %s, want %s", i, c.at, got.LastUsed, c.want)
			}
		}
	})
	t.Run("revoking deletes both items; a second revocation is ErrNoAPIKey", func(t *testing.T) {
		if err := s.DeleteAPIKey(ctx, "k0003"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.APIKey(ctx, "k0003"); !errors.Is(err, ErrNoAPIKey) {
			t.Errorf("after revoking: got %v, want ErrNoAPIKey", err)
		}
		if err := s.DeleteAPIKey(ctx, "k0003"); !errors.Is(err, ErrNoAPIKey) {
			t.Errorf("revoking again: got %v, want ErrNoAPIKey", err)
		}
		out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: apiKeyListing("k0003"), ConsistentRead: aws.Bool(true)})
		if err != nil || out.Item != nil {
			t.Errorf("the listing item is %v (%v), want gone", out.Item, err)
		}
	})
	t.Run("touching a revoked key does not bring it back", func(t *testing.T) {
		if err := s.TouchAPIKey(ctx, "k0003", t0.Add(5*time.Hour), time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := s.APIKey(ctx, "k0003"); !errors.Is(err, ErrNoAPIKey) {
			t.Errorf("got %v, want ErrNoAPIKey", err)
		}
	})
}

func TestAPIKeysListNewestFirstInPagesWithTheirLastUse(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t, Options{})
	const n = 7
	var ids []string
	for i := range n {
		id := fmt.Sprintf("k%04d", i) // ascending: created in this order
		ids = append(ids, id)
		if err := s.CreateAPIKey(ctx, testKey(id, []string{"d1"})); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.TouchAPIKey(ctx, "k0005", t0, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListAPIKeys(ctx, 0, ""); err == nil {
		t.Error("a page of 0 keys: got no error")
	}
	for _, limit := range []int{1, 3, n, MaxAPIKeyPage} {
		t.Run(fmt.Sprintf("pages of %d list every key once, newest first", limit), func(t *testing.T) {
			var got []string
			after, pages := "", 0
			for {
				m := &Meter{}
				page, err := s.ListAPIKeys(WithMeter(ctx, m), limit, after)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if len(page.Keys) > limit {
					t.Fatalf("a page of %d keys, want at most %d", len(page.Keys), limit)
				}
				// Small items: a Query of one read unit and one BatchGetItem
				// of half a unit per key, whatever the number of keys.
				if read, _ := m.Units(); read > 1+0.5*float64(len(page.Keys)) {
					t.Errorf("page %d read %v units for %d keys, want at most %v", pages, read, len(page.Keys), 1+0.5*float64(len(page.Keys)))
				}
				for _, k := range page.Keys {
					got = append(got, k.ID)
					if k.Hash != nil {
						t.Errorf("%s is listed with its hash", k.ID)
					}
					if want := k.ID == "k0005"; !k.LastUsed.IsZero() != want {
						t.Errorf("%s: last used %s, want a time: %v", k.ID, k.LastUsed, want)
					}
				}
				if page.Next == "" {
					break
				}
				after = page.Next
			}
			want := make([]string, n)
			for i := range want {
				want[i] = ids[n-1-i]
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
			if wantPages := (n + limit - 1) / limit; pages != wantPages {
				t.Errorf("%d pages, want %d (a full last page has no Next)", pages, wantPages)
			}
		})
	}
}
