// cbt-proxy: a vim25 SOAP proxy for ferry's vSphere tests. govmomi's
// simulator has no QueryChangedDiskAreas; this proxy sits in front of it,
// answers that one method from a record file the test writes, and forwards
// every other request (SOAP, /folder file access, cookies, everything) to
// the simulator unchanged. Standard library only.
//
// Record file (JSON, re-read on every query, so a test may rewrite it --
// atomically, with mv -- between precopies):
//
//	{"disks": [{"vm": "vm-57", "deviceKey": 2000, "capacity": 4194304,
//	  "changes": [{"changeId": "*", "areas": [[0, 65536], [1048576, 4096]]},
//	              {"changeId": "52 aa bb/1", "snapshot": "snapshot-72",
//	               "areas": [[4096, 4096]]}]}]}
//
// areas are [start, length] byte pairs: for changeId "*", the allocated
// areas; for any other changeId, what changed since the disk had that
// changeId. "snapshot" is optional; when set, the entry only answers
// queries naming that snapshot. A query is answered only for a session the
// simulator accepts (checked with CurrentTime) and a VM whose
// config.changeTrackingEnabled is true (unless -require-cbt=false).
//
// When it serves, it prints one line on stdout:
//
//	CBTPROXY_URL=https://127.0.0.1:PORT/sdk CBTPROXY_THUMBPRINT=AA:.. CBTPROXY_THUMBPRINT256=.. CBTPROXY_PID=N
//
// With -ignore-shutdown, ShutdownGuest is answered with success and not
// forwarded: the VM stays on, as with a guest that ignores the request.
//
// It logs one line per SOAP request on stderr: "SOAP Method" for a
// forwarded call, "QCDA vm=.. snapshot=.. deviceKey=.. changeId=".."
// startOffset=.. -> length=.. areas=N bytes=B" for an answered query, or
// "QCDA ... -> fault NAME".
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

type change struct {
	ChangeID string     `json:"changeId"`
	Snapshot string     `json:"snapshot"`
	Areas    [][2]int64 `json:"areas"`
}

type disk struct {
	VM        string   `json:"vm"`
	DeviceKey int32    `json:"deviceKey"`
	Capacity  int64    `json:"capacity"`
	Changes   []change `json:"changes"`
}

type moref struct {
	Type  string `xml:"type,attr"`
	Value string `xml:",chardata"`
}

type query struct {
	This        moref  `xml:"_this"`
	Snapshot    *moref `xml:"snapshot"`
	DeviceKey   int32  `xml:"deviceKey"`
	StartOffset int64  `xml:"startOffset"`
	ChangeID    string `xml:"changeId"`
}

const envOpen = xml.Header + `<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/"` +
	` xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema"` +
	` xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>`
const envClose = `</soapenv:Body></soapenv:Envelope>`

var (
	upstream   *url.URL
	client     *http.Client
	recordFile string
	maxAreas   int
	requireCBT bool
	methodRE   = regexp.MustCompile(`<(?:[\w.-]+:)?Body[^>]*>\s*<(?:[\w.-]+:)?([A-Za-z_]+)`)
	cbtOnRE    = regexp.MustCompile(`<val[^>]*>true</val>`)
	pcRE       = regexp.MustCompile(`<propertyCollector type="PropertyCollector">([^<]+)</propertyCollector>`)
	pcOnce     sync.Once
	pcMoref    = "propertyCollector" // vCenter's; ESX's is ha-property-collector
)

func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// vimFault writes a vim25 fault the way the simulator does (HTTP 500).
func vimFault(w http.ResponseWriter, name, msg, inner string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, `%s<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>%s</faultstring>`+
		`<detail><%sFault xmlns="urn:vim25" xsi:type="%s">%s</%sFault></detail></soapenv:Fault>%s`,
		envOpen, esc(msg), name, name, inner, name, envClose)
}

// callUpstream posts a vim25 body to the simulator with the client's cookies.
func callUpstream(r *http.Request, body string) (int, []byte, error) {
	u := *upstream
	u.Path = "/sdk"
	req, err := http.NewRequest(http.MethodPost, u.String(), strings.NewReader(envOpen+body+envClose))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"urn:vim25/6.5"`)
	for _, c := range r.Cookies() {
		req.AddCookie(c)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	return res.StatusCode, out, err
}

// relay passes an upstream fault back to the client as it came.
func relay(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func loadDisk(q *query) (*disk, *change, string, error) {
	data, err := os.ReadFile(recordFile)
	if err != nil {
		return nil, nil, "", err
	}
	var rec struct {
		Disks []disk `json:"disks"`
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, nil, "", fmt.Errorf("%s: %v", recordFile, err)
	}
	snap := ""
	if q.Snapshot != nil {
		snap = q.Snapshot.Value
	}
	for i := range rec.Disks {
		d := &rec.Disks[i]
		if d.VM != q.This.Value || d.DeviceKey != q.DeviceKey {
			continue
		}
		var found *change
		for j := range d.Changes {
			c := &d.Changes[j]
			if c.ChangeID == q.ChangeID && (c.Snapshot == snap || (c.Snapshot == "" && found == nil)) {
				found = c
			}
		}
		if found == nil {
			return d, nil, "changeId", nil
		}
		return d, found, "", nil
	}
	return nil, nil, "deviceKey", nil
}

func answer(w http.ResponseWriter, r *http.Request, q *query) string {
	if q.This.Type != "VirtualMachine" {
		vimFault(w, "InvalidArgument", "_this is not a VirtualMachine", "<invalidProperty>_this</invalidProperty>")
		return "fault InvalidArgument(_this)"
	}
	status, body, err := callUpstream(r, `<CurrentTime xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this></CurrentTime>`)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return "upstream error " + err.Error()
	}
	if status != http.StatusOK {
		relay(w, status, body)
		return "fault from upstream (session)"
	}
	pcOnce.Do(func() {
		_, sc, err := callUpstream(r, `<RetrieveServiceContent xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this></RetrieveServiceContent>`)
		if m := pcRE.FindSubmatch(sc); err == nil && m != nil {
			pcMoref = string(m[1])
		}
	})
	status, body, err = callUpstream(r, `<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">`+pcMoref+`</_this>`+
		`<specSet><propSet><type>VirtualMachine</type><pathSet>config.changeTrackingEnabled</pathSet></propSet>`+
		`<objectSet><obj type="VirtualMachine">`+esc(q.This.Value)+`</obj></objectSet></specSet><options/></RetrievePropertiesEx>`)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return "upstream error " + err.Error()
	}
	if status != http.StatusOK {
		relay(w, status, body)
		return "fault from upstream (vm)"
	}
	if requireCBT && !cbtOnRE.Match(body) {
		vimFault(w, "NotSupported", "changed block tracking is not enabled on "+q.This.Value, "")
		return "fault NotSupported (CBT off)"
	}
	d, c, bad, err := loadDisk(q)
	if err != nil {
		vimFault(w, "SystemError", err.Error(), "<reason>"+esc(err.Error())+"</reason>")
		return "fault SystemError " + err.Error()
	}
	if bad == "" && (q.StartOffset < 0 || q.StartOffset >= d.Capacity) {
		bad = "startOffset"
	}
	if bad != "" {
		vimFault(w, "InvalidArgument", "A specified parameter was not correct: "+bad,
			"<invalidProperty>"+bad+"</invalidProperty>")
		return "fault InvalidArgument(" + bad + ")"
	}
	areas := append([][2]int64(nil), c.Areas...)
	sort.Slice(areas, func(i, j int) bool { return areas[i][0] < areas[j][0] })
	var out bytes.Buffer
	n, moved, end := 0, int64(0), d.Capacity
	for _, a := range areas {
		s, e := a[0], a[0]+a[1]
		if e > d.Capacity {
			e = d.Capacity
		}
		if s < q.StartOffset {
			s = q.StartOffset
		}
		if e <= s {
			continue
		}
		if maxAreas > 0 && n == maxAreas {
			end = s // the next reply starts here
			break
		}
		fmt.Fprintf(&out, "<changedArea><start>%d</start><length>%d</length></changedArea>", s, e-s)
		n, moved = n+1, moved+e-s
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	fmt.Fprintf(w, `%s<QueryChangedDiskAreasResponse xmlns="urn:vim25"><returnval><startOffset>%d</startOffset>`+
		`<length>%d</length>%s</returnval></QueryChangedDiskAreasResponse>%s`,
		envOpen, q.StartOffset, end-q.StartOffset, out.String(), envClose)
	return fmt.Sprintf("length=%d areas=%d bytes=%d", end-q.StartOffset, n, moved)
}

func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "cbt-proxy", Organization: []string{"ferry tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, &key.PublicKey, key)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, err
}

func thumbprint(sum []byte) string {
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

func main() {
	listen := flag.String("l", "127.0.0.1:0", "listen address (port 0: pick a free port)")
	up := flag.String("upstream", "", "the simulator's URL, e.g. https://127.0.0.1:PORT/sdk (its certificate is not checked)")
	flag.StringVar(&recordFile, "record", "", "the record file (JSON, see the source's header)")
	flag.IntVar(&maxAreas, "max-areas", 0, "at most this many areas per reply (0: all; the client then loops by startOffset)")
	flag.BoolVar(&requireCBT, "require-cbt", true, "fault unless the VM's config.changeTrackingEnabled is true")
	ignoreShutdown := flag.Bool("ignore-shutdown", false, "answer ShutdownGuest with success without forwarding it (a guest that ignores it)")
	useTLS := flag.Bool("tls", true, "serve HTTPS")
	certFile := flag.String("tlscert", "", "PEM certificate (default: a fresh self-signed P-256 one)")
	keyFile := flag.String("tlskey", "", "PEM private key for -tlscert")
	certOut := flag.String("cert-out", "", "write the server certificate (PEM) to this file")
	flag.Parse()
	log.SetFlags(0)
	var err error
	if upstream, err = url.Parse(*up); err != nil || upstream.Host == "" || recordFile == "" {
		log.Fatal("usage: cbt-proxy -upstream https://HOST:PORT/sdk -record FILE [-l ADDR]")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: 32}
	client = &http.Client{Transport: tr, Timeout: 60 * time.Second}
	rp := &httputil.ReverseProxy{
		Director: func(r *http.Request) {
			r.URL.Scheme, r.URL.Host, r.Host = upstream.Scheme, upstream.Host, upstream.Host
		},
		Transport:     tr,
		FlushInterval: -1,
	}

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/sdk") {
			rp.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		_ = r.Body.Close()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if bytes.Contains(body, []byte("QueryChangedDiskAreas")) {
			var env struct {
				Body struct {
					Q *query `xml:"QueryChangedDiskAreas"`
				} `xml:"Body"`
			}
			if xml.Unmarshal(body, &env) == nil && env.Body.Q != nil {
				q := env.Body.Q
				snap := ""
				if q.Snapshot != nil {
					snap = q.Snapshot.Value
				}
				res := answer(w, r, q)
				log.Printf("QCDA vm=%s snapshot=%s deviceKey=%d changeId=%q startOffset=%d -> %s",
					q.This.Value, snap, q.DeviceKey, q.ChangeID, q.StartOffset, res)
				return
			}
		}
		if m := methodRE.FindSubmatch(body); m != nil {
			if *ignoreShutdown && string(m[1]) == "ShutdownGuest" {
				log.Printf("SOAP ShutdownGuest (ignored)")
				w.Header().Set("Content-Type", "text/xml; charset=utf-8")
				fmt.Fprintf(w, `%s<ShutdownGuestResponse xmlns="urn:vim25"></ShutdownGuestResponse>%s`, envOpen, envClose)
				return
			}
			log.Printf("SOAP %s", m[1])
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		rp.ServeHTTP(w, r)
	})

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	scheme, line := "http", ""
	if *useTLS {
		cert, err := selfSigned()
		if *certFile != "" {
			cert, err = tls.LoadX509KeyPair(*certFile, *keyFile)
		}
		if err != nil {
			log.Fatal(err)
		}
		der := cert.Certificate[0]
		s1, s256 := sha1.Sum(der), sha256.Sum256(der)
		line = " CBTPROXY_THUMBPRINT=" + thumbprint(s1[:]) + " CBTPROXY_THUMBPRINT256=" + thumbprint(s256[:])
		if *certOut != "" {
			if err := os.WriteFile(*certOut, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
				log.Fatal(err)
			}
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
		scheme = "https"
	}
	srv := &http.Server{Handler: handler, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("CBTPROXY_URL=%s://%s/sdk%s CBTPROXY_PID=%d\n", scheme, ln.Addr(), line, os.Getpid())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
}
