package storetest

import "reflect"

// Scribble overwrites, in place, what v shares with its copies: every element of its slices,
// every pointee, and empties its maps. A record is a value, but its slices, maps and pointers
// are the caller's, who may change them once a StagedStore's Stage has returned: a test
// scribbles over the records it staged and requires the batch to store them as they were.
func Scribble(v reflect.Value) {
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			Scribble(v.Elem())
		}
	case reflect.Pointer:
		if !v.IsNil() {
			Scribble(v.Elem())
			v.Elem().SetZero()
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				Scribble(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			Scribble(v.Index(i))
			v.Index(i).SetZero()
		}
	case reflect.Map:
		v.Clear()
	}
}
