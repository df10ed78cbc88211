package auth

import (
	"net/http/httptest"

	"github.com/backline/backline/internal/lua"
)

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// setTestHeader sets a response header as a filter would.
func setTestHeader(x *lua.HTTPExchange, name, value string) error {
	return lua.SetResponseHeaderForTest(x, name, value)
}
