// vcsim: govmomi's vCenter simulator (simulator package, Debian's
// golang-github-vmware-govmomi-dev) behind a small command line, for ferry's
// vSphere tests. Debian ships the library but not upstream's vcsim command.
//
// When it serves, it prints one line on stdout and nothing else there:
//
//	VCSIM_URL=https://127.0.0.1:PORT/sdk VCSIM_THUMBPRINT=AA:..(SHA-1) VCSIM_THUMBPRINT256=.. VCSIM_PID=N
//
// SIGTERM or SIGINT stops it; it removes its datastore directories on the way.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
)

// selfSigned makes a P-256 certificate for 127.0.0.1, ::1 and localhost that
// is its own CA (so it also works as a cacert). The simulator's built-in
// certificate is RSA-1024, which OpenSSL 3 refuses to verify at its default
// security level.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "vcsim", Organization: []string{"ferry tests"}},
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
	esx := flag.Bool("esx", false, "simulate a standalone ESXi host instead of vCenter")
	dc := flag.Int("dc", 1, "datacenters")
	cluster := flag.Int("cluster", 1, "clusters per datacenter")
	host := flag.Int("host", 3, "hosts per cluster")
	standalone := flag.Int("standalone-host", 1, "standalone hosts per datacenter")
	pool := flag.Int("pool", 0, "child resource pools per cluster")
	folder := flag.Int("folder", 0, "place this many datacenters inside a folder (their host, vm, network and datastore folders get one too)")
	ds := flag.Int("ds", 1, "datastores (local temp dirs, mounted on every host)")
	vm := flag.Int("vm", 2, "VMs per resource pool (each standalone host and each cluster has one)")
	pg := flag.Int("pg", 1, "distributed port groups per datacenter")
	autostart := flag.Bool("autostart", true, "power on the VMs the model creates")
	useTLS := flag.Bool("tls", true, "serve HTTPS")
	certFile := flag.String("tlscert", "", "PEM certificate (default: a fresh self-signed P-256 one)")
	keyFile := flag.String("tlskey", "", "PEM private key for -tlscert")
	certOut := flag.String("cert-out", "", "write the server certificate (PEM) to this file")
	user := flag.String("username", "", "the only user Login accepts (default: any non-empty user and password)")
	pass := flag.String("password", "", "the password for -username")
	idle := flag.Duration("session-idle-timeout", 0, "expire sessions idle this long (checked every interval, so expiry takes 1-2x)")
	delay := flag.Int("delay", 0, "milliseconds to delay every SOAP method")
	methodDelay := flag.String("method-delay", "", "per-method delays, e.g. PowerOffVM_Task:2000,CreateSnapshot_Task:500")
	trace := flag.Bool("trace", false, "write SOAP traffic to stderr")
	flag.Parse()

	model := simulator.VPX()
	if *esx {
		model = simulator.ESX()
	} else {
		model.Datacenter, model.Cluster, model.ClusterHost = *dc, *cluster, *host
		model.Host, model.Pool, model.Folder, model.Portgroup = *standalone, *pool, *folder, *pg
	}
	model.Datastore, model.Machine, model.Autostart = *ds, *vm, *autostart
	model.DelayConfig.Delay = *delay
	model.DelayConfig.MethodDelay = map[string]int{}
	for _, kv := range strings.FieldsFunc(*methodDelay, func(r rune) bool { return r == ',' }) {
		name, ms, _ := strings.Cut(kv, ":")
		if n, err := strconv.Atoi(ms); err == nil {
			model.DelayConfig.MethodDelay[name] = n
		} else {
			log.Fatalf("-method-delay: bad entry %q", kv)
		}
	}
	simulator.Trace = *trace
	simulator.SessionIdleTimeout = *idle

	if err := model.Create(); err != nil {
		log.Fatal(err)
	}
	die := func(err error) { model.Remove(); log.Fatal(err) } // no datastore dirs left behind
	model.Service.Listen = &url.URL{Host: *listen}
	if *user != "" {
		model.Service.Listen.User = url.UserPassword(*user, *pass)
	}
	if *useTLS {
		cert, err := selfSigned()
		if *certFile != "" {
			cert, err = tls.LoadX509KeyPair(*certFile, *keyFile)
		}
		if err != nil {
			die(err)
		}
		model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	server := model.Service.NewServer()

	u := *server.URL
	u.User = nil
	line := "VCSIM_URL=" + u.String()
	if *useTLS {
		der := server.Certificate().Raw
		s1, s256 := sha1.Sum(der), sha256.Sum256(der)
		line += " VCSIM_THUMBPRINT=" + thumbprint(s1[:]) + " VCSIM_THUMBPRINT256=" + thumbprint(s256[:])
		if *certOut != "" {
			pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
			if err := os.WriteFile(*certOut, pemBytes, 0o644); err != nil {
				server.Close()
				die(err)
			}
		}
	}
	fmt.Printf("%s VCSIM_PID=%d\n", line, os.Getpid())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	<-sig
	server.Close()
	model.Remove()
}
