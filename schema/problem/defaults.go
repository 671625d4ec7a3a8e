package problem

import "reflect"

// WithDefaults returns config with each of its exported fields that holds
// its type's zero value set to the same field of defaults: the
// withDefaults of a configuration type whose Defaults() sets exactly the
// settings that have a default. A field whose zero is a choice the
// defaults must not override (a bool that defaults to true, a bound where
// zero means off) cannot be filled this way; T must be a struct.
func WithDefaults[T any](config, defaults T) T {
	v, d := reflect.ValueOf(&config).Elem(), reflect.ValueOf(defaults)
	for i := range v.NumField() {
		if f := v.Field(i); f.CanSet() && f.IsZero() {
			f.Set(d.Field(i))
		}
	}
	return config
}
