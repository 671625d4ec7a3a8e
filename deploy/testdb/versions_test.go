package testdb

import (
	"strings"
	"testing"
)

func TestServerSpecs(t *testing.T) {
	t.Setenv(EnvPostgres, "")
	t.Setenv(EnvMySQL, "")
	for in, want := range map[string]ServerSpec{
		"": {Kind: "postgres"}, "15": {Kind: "postgres"}, "13": {Kind: "postgres", Version: "13"}, "16.16.0": {Kind: "postgres", Version: "16.16.0"},
	} {
		if got := postgresSpec(in); got != want {
			t.Errorf("postgresSpec(%q) = %+v, want %+v", in, got, want)
		}
	}
	t.Setenv(EnvPostgres, "18")
	if got := postgresSpec(""); got.Version != "18" {
		t.Errorf("with %s=18: %+v", EnvPostgres, got)
	}
	for in, want := range map[string]ServerSpec{
		"": {Kind: FlavorMariaDB}, "mariadb-10.11": {Kind: FlavorMariaDB}, "mariadb-11.4": {Kind: FlavorMariaDB, Version: "11.4"}, "mysql-9.7": {Kind: FlavorMySQL, Version: "9.7"},
	} {
		if got, err := mysqlSpec(in); err != nil || got != want {
			t.Errorf("mysqlSpec(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"mysql", "percona-8.0", "mysql-"} {
		if _, err := mysqlSpec(bad); err == nil || !strings.Contains(err.Error(), EnvMySQL) {
			t.Errorf("mysqlSpec(%q) = %v, want an error naming %s", bad, err, EnvMySQL)
		}
	}
	t.Setenv(EnvMySQL, "mysql-9.7")
	if got, _ := mysqlSpec(""); got.Kind != FlavorMySQL {
		t.Errorf("with %s=mysql-9.7: %+v", EnvMySQL, got)
	}
}
