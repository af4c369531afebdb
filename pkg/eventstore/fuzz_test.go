package eventstore

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzMergePatch applies JSON merge patches to JSON targets. mergePatch must
// never panic and must keep what RFC 7396 promises:
//   - an object patch gives an object: a member the patch sets to null is
//     absent, an object member is merged the same way one level down, any
//     other member is the patch's value, and members the patch does not
//     name are the target's;
//   - applying the patch again changes nothing (a merge patch is
//     idempotent), and the patch itself is left as it was;
//   - a patch that is not an object replaces the target.
func FuzzMergePatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, targetJSON, patchJSON []byte) {
		target, ok1 := decodeAny(targetJSON)
		patch, ok2 := decodeAny(patchJSON)
		if !ok1 || !ok2 {
			return
		}
		got := mergePatch(deepCopy(target), patch)
		if !reflect.DeepEqual(patch, mustDecode(t, patchJSON)) {
			t.Fatalf("mergePatch changed its patch %s into %v", patchJSON, patch)
		}
		p, isObject := patch.(map[string]any)
		if !isObject {
			if !reflect.DeepEqual(got, patch) {
				t.Fatalf("mergePatch(%s, %s) = %v, want the patch itself", targetJSON, patchJSON, got)
			}
			return
		}
		checkMerged(t, "", target, p, got)
		again := mergePatch(deepCopy(got), patch)
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("mergePatch(%s, %s) = %v, applied again %v; want no change", targetJSON, patchJSON, got, again)
		}
	})
}

// checkMerged checks one level of an object patch's result, and recurses
// where the patch has an object.
func checkMerged(t *testing.T, path string, target any, patch map[string]any, got any) {
	t.Helper()
	res, ok := got.(map[string]any)
	if !ok {
		t.Fatalf("at %q: result %v is not an object, want one for an object patch", path, got)
	}
	tm, _ := target.(map[string]any)
	for k, pv := range patch {
		rv, present := res[k]
		switch pv := pv.(type) {
		case nil:
			if present {
				t.Fatalf("at %q: member %q is %v, want it removed by the patch's null", path, k, rv)
			}
		case map[string]any:
			checkMerged(t, path+"/"+k, tm[k], pv, rv)
		default:
			if !reflect.DeepEqual(rv, pv) {
				t.Fatalf("at %q: member %q is %v, want the patch's %v", path, k, rv, pv)
			}
		}
	}
	for k, rv := range res {
		if _, patched := patch[k]; patched {
			continue
		}
		tv, inTarget := tm[k]
		if !inTarget || !reflect.DeepEqual(rv, tv) {
			t.Fatalf("at %q: member %q is %v, want the target's %v (in target: %v)", path, k, rv, tv, inTarget)
		}
	}
	for k := range tm {
		if _, kept := res[k]; !kept {
			if pv, patched := patch[k]; !patched || pv != nil {
				t.Fatalf("at %q: member %q of the target is gone, though the patch did not remove it", path, k)
			}
		}
	}
}

func decodeAny(b []byte) (any, bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil || d.More() {
		return nil, false
	}
	return v, true
}

func mustDecode(t *testing.T, b []byte) any {
	t.Helper()
	v, ok := decodeAny(b)
	if !ok {
		t.Fatalf("%s no longer decodes", b)
	}
	return v
}

// deepCopy copies decoded JSON, so that mergePatch, which may change its
// target, changes only the copy.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}
