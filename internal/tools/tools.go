//go:build tools

// Package tools pins the modules the project uses before every package imports them,
// so parallel work does not race on go.mod. Remove an entry once a real import exists.
package tools

import (
	_ "github.com/alicebob/miniredis/v2"
	_ "github.com/emersion/go-imap/v2"
	_ "github.com/emersion/go-sasl"
	_ "github.com/emersion/go-smtp"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/pires/go-proxyproto"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/yuin/gopher-lua"
	_ "go.uber.org/goleak"
	_ "go.yaml.in/yaml/v3"
	_ "golang.org/x/crypto/argon2"
	_ "golang.org/x/crypto/bcrypt"
	_ "golang.org/x/net/http2"
)
