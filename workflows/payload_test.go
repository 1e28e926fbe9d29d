package workflows

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"smsflow/activities"
)

// Every struct that travels through Temporal — the workflow's request and result, its query
// answer, its signals, and every activity's input and output — names its JSON keys explicitly:
// renaming a Go field must not silently change the payload that running workflows decode.
func TestPayloadsHaveExplicitJSONKeys(t *testing.T) {
	roots := []reflect.Type{
		reflect.TypeFor[SMSRequest](), reflect.TypeFor[SMSResult](), reflect.TypeFor[MessageState](),
		reflect.TypeFor[CarrierReport](), reflect.TypeFor[Reply](), reflect.TypeFor[Click](), reflect.TypeFor[Unsubscribe](),
	}
	acts := reflect.TypeFor[*activities.Activities]()
	ctxType := reflect.TypeFor[context.Context]()
	for i := range acts.NumMethod() {
		m := acts.Method(i).Type
		for j := 1; j < m.NumIn(); j++ { // 0 is the receiver
			if m.In(j) != ctxType {
				roots = append(roots, m.In(j))
			}
		}
		for j := range m.NumOut() {
			roots = append(roots, m.Out(j))
		}
	}
	seen := map[reflect.Type]bool{}
	var check func(reflect.Type, string)
	check = func(typ reflect.Type, path string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map || typ.Kind() == reflect.Array {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] || typ == reflect.TypeFor[time.Time]() || typ.PkgPath() == "" ||
			!strings.HasPrefix(typ.PkgPath(), "smsflow/") {
			return
		}
		seen[typ] = true
		for i := range typ.NumField() {
			f := typ.Field(i)
			if !f.IsExported() {
				continue
			}
			if tag := f.Tag.Get("json"); tag == "" || strings.Split(tag, ",")[0] == "" {
				t.Errorf("%s.%s (in %s) has no explicit json key", typ, f.Name, path)
			}
			check(f.Type, path+"."+f.Name)
		}
	}
	for _, r := range roots {
		check(r, r.String())
	}
	if len(seen) < 15 {
		t.Fatalf("only %d payload types found: the walk is broken", len(seen))
	}
}
