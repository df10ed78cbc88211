package config

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"
)

// BackendOpenAPI is Couper's openapi block: requests to the backend and its
// responses are validated against an OpenAPI 3 document. MaxBodySize is
// backline's own: validation must hold a body in memory, and a body beyond
// it is not buffered (see docs/gateway.md).
type BackendOpenAPI struct {
	File                     string   `yaml:"file"`
	IgnoreRequestViolations  bool     `yaml:"ignore_request_violations"`
	IgnoreResponseViolations bool     `yaml:"ignore_response_violations"`
	MaxBodySize              ByteSize `yaml:"max_body_size"`

	// Doc is the document, loaded and checked once at config load.
	Doc *openapi3.T `yaml:"-"`
}

// Limits of an OpenAPI document. Large public APIs are 1-3 MiB of YAML;
// parsing YAML costs about 100x its size in memory, so the file is bounded
// before anything parses it, and its shape (aliases expanded) before the
// OpenAPI library walks it.
const (
	MaxOpenAPIFileSize         = 4 << 20
	DefaultOpenAPIMaxBodySize  = 1 << 20 // nginx's client_max_body_size default
	maxOpenAPIDepth            = 128
	maxOpenAPINodes            = 1_000_000
	maxOpenAPIText             = 32 << 20
	openAPIWhat                = "an OpenAPI document"
	errExternalRefsNotFollowed = "external references are not followed (the document must be self-contained)"
)

var openAPILimits = yamlLimits{depth: maxOpenAPIDepth, nodes: maxOpenAPINodes, text: maxOpenAPIText, what: openAPIWhat}

// errExternalRef refuses every read the loader asks for: a $ref to another
// file or a URL would make config load touch the network or the disk
// outside the operator's list of files.
var errExternalRef = errors.New(errExternalRefsNotFollowed)

func (v *gatewayValidator) validateOpenAPI(path string, o *BackendOpenAPI) {
	if o.File == "" {
		v.add(path+".file", "is required (the OpenAPI 3 document to validate against)")
		return
	}
	if o.MaxBodySize == 0 {
		o.MaxBodySize = DefaultOpenAPIMaxBodySize
	} else if o.MaxBodySize < 0 {
		v.add(path+".max_body_size", "must not be negative")
	}
	doc, line, err := LoadOpenAPI(o.File)
	if err != nil {
		if line > 0 {
			v.add(path+".file", "%s line %d: %v", o.File, line, err)
		} else {
			v.add(path+".file", "%s: %v", o.File, err)
		}
		return
	}
	o.Doc = doc
}

// LoadOpenAPI reads and checks an OpenAPI 3 document. line is the
// document's line of a syntax or size problem, 0 when unknown.
func LoadOpenAPI(file string) (doc *openapi3.T, line int, err error) {
	data, err := readFileLimited(file, MaxOpenAPIFileSize)
	if err != nil {
		return nil, 0, err
	}
	if line, err := checkOpenAPIShape(data); err != nil {
		return nil, line, err
	}
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	loader.ReadFromURIFunc = func(*openapi3.Loader, *url.URL) ([]byte, error) { return nil, errExternalRef }
	doc, err = loader.LoadFromData(data)
	if err != nil {
		return nil, 0, fmt.Errorf("not a usable OpenAPI document: %w", err)
	}
	if doc.OpenAPI == "" {
		return nil, 0, errors.New("not an OpenAPI 3 document (no 'openapi' version key; Swagger 2.0 is not supported)")
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, 0, fmt.Errorf("invalid OpenAPI document: %w", err)
	}
	return doc, 0, nil
}

// checkOpenAPIShape refuses a document whose nesting or alias expansion
// would make the library's walks unbounded. JSON has no aliases; its depth
// is checked with a token scan.
func checkOpenAPIShape(data []byte) (int, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return 0, checkJSONDepth(trimmed, maxOpenAPIDepth)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return 0, errors.New("the document is empty")
		}
		var es Errors
		if errors.As(syntaxError(data, err), &es) && len(es) > 0 {
			return es[0].Line, errors.New(es[0].Msg)
		}
		return 0, err
	}
	if e := checkExpansionWithin(&root, openAPILimits); e != nil {
		where := e.Path
		if where == "" {
			where = "(root)"
		}
		return e.Line, fmt.Errorf("%s: %s", where, e.Msg)
	}
	return 0, nil
}

func checkJSONDepth(data []byte, limit int) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	depth := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("invalid JSON at byte %d: %v", dec.InputOffset(), err)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if depth++; depth > limit {
				return fmt.Errorf("nesting is deeper than %d levels at byte %d", limit, dec.InputOffset())
			}
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}
