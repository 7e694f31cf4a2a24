package report

import "reflect"

// withEmptyLists returns a copy of m in which every nil slice, at any
// depth, is an empty one: the JSON document then has [] where a list has
// no entries, never null, so consumers iterate without checks and an
// empty section looks the same whether or not a detector ran.
func withEmptyLists(m *Model) *Model {
	v := fill(reflect.ValueOf(*m))
	out := v.Interface().(Model)
	return &out
}

func fill(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Struct:
		c := reflect.New(v.Type()).Elem()
		c.Set(v)
		for i := 0; i < v.NumField(); i++ {
			if c.Field(i).CanSet() {
				c.Field(i).Set(fill(v.Field(i)))
			}
		}
		return c
	case reflect.Slice:
		if v.IsNil() {
			return reflect.MakeSlice(v.Type(), 0, 0)
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			c.Index(i).Set(fill(v.Index(i)))
		}
		return c
	}
	return v
}
