#!/usr/bin/python3
# fakekube: a fake Kubernetes API server for ferry's tests (README.md).
#
# Python 3 standard library only. It serves the REST conventions ferry and
# kubectl rely on (discovery, Status errors, resourceVersion, conflicts,
# watch streams, selectors, paging, patches) for a fixed set of resources
# kept in memory, and simulates a few controllers: PVCs bind, blank
# DataVolumes succeed, and batch/v1 Jobs run their first container's
# command as a local process on local sparse files standing in for the
# claims. What it does not model is listed in README.md.
"""fakekube: a fake Kubernetes API server (see tests/kube/README.md)."""

import argparse
import base64
import collections
import copy
import datetime
import hashlib
import http.server
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

# ---------------------------------------------------------------- helpers


def now_ts():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ts_at(t):
    """RFC 3339, seconds, of the epoch time t."""
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(s):
    try:
        return datetime.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


def human_age(ts):
    t = parse_ts(ts)
    if t is None:
        return "<unknown>"
    s = int((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds())
    s = max(s, 0)
    if s < 120:
        return "%ds" % s
    if s < 7200:
        return "%dm" % (s // 60)
    if s < 172800:
        return "%dh" % (s // 3600)
    return "%dd" % (s // 86400)


_GEN_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # apiserver's generateName alphabet
DEFAULT_CLASS_KEYS = ("storageclass.kubernetes.io/is-default-class",
                      "storageclass.beta.kubernetes.io/is-default-class")
DEFAULT_VIRT_CLASS = "storageclass.kubevirt.io/is-default-virt-class"
FOREGROUND = "foregroundDeletion"  # the finalizer of a deletion in the foreground
KUBELET_MIN_GRACE = 2  # s: the kubelet's least time between SIGTERM and SIGKILL


def rand_suffix(n=5):
    return "".join(random.choice(_GEN_CHARS) for _ in range(n))


def dig(obj, *path, default=None):
    for p in path:
        if isinstance(obj, dict) and p in obj:
            obj = obj[p]
        elif isinstance(obj, list) and isinstance(p, int) and -len(obj) <= p < len(obj):
            obj = obj[p]
        else:
            return default
    return obj


_QSUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
            "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
            "m": None, "": 1}


def parse_quantity(q):
    """A resource.Quantity ("10Gi", "1.5G", "1e9", 5) as an int, rounded up."""
    if isinstance(q, (int, float)):
        return int(-(-q // 1))
    m = re.fullmatch(r"\s*([+-]?[0-9]*\.?[0-9]+)([eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?\s*",
                     str(q))
    if not m:
        raise ValueError("quantities must match the regular expression "
                         "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    num, suf = m.group(1), m.group(2) or ""
    from fractions import Fraction
    v = Fraction(num)
    if suf[:1] in ("e", "E"):
        v *= Fraction(10) ** int(suf[1:])
    elif suf == "m":
        v /= 1000
    else:
        v *= _QSUFFIX[suf]
    return int(-(-v.numerator // v.denominator))


class ApiError(Exception):
    """A Kubernetes Status failure."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details, self.headers = details, headers or {}

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": self.message, "reason": self.reason}
        if self.details is not None:
            st["details"] = self.details
        st["code"] = self.code
        return st


def _details(res, name, kind=None, **extra):
    d = {}
    if name is not None:
        d["name"] = name
    if res is not None and res.group:
        d["group"] = res.group
    d["kind"] = kind if kind is not None else (res.name if res is not None else "")
    d.update(extra)
    return d


def err_not_found(res, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (res.qualified, name),
                    _details(res, name))


def err_already_exists(res, name):
    return ApiError(409, "AlreadyExists", '%s "%s" already exists' % (res.qualified, name),
                    _details(res, name))


def err_conflict(res, name, why="the object has been modified; please apply your changes "
                                 "to the latest version and try again"):
    return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": %s'
                    % (res.qualified, name, why), _details(res, name))


def err_bad_request(msg):
    return ApiError(400, "BadRequest", msg)


def err_invalid(res, name, causes):
    """causes: [(field, reason, message)], reason e.g. FieldValueInvalid."""
    parts = ", ".join("%s: %s" % (f, m) for f, _, m in causes)
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (res.kind, name, parts),
                    _details(res, name, kind=res.kind,
                             causes=[{"reason": r, "message": m, "field": f}
                                     for f, r, m in causes]))


def err_method(res, verb):
    return ApiError(405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource", {})


# ---------------------------------------------------------------- resources

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


class Res:
    """One served resource (group, version, plural) and how it behaves."""

    def __init__(self, group, version, name, kind, namespaced, short=(), status=False,
                 crd=False, categories=(), generation=False, verbs=ALL_VERBS,
                 singular=None, fields=(), delete_returns_object=None,
                 default_propagation="Background"):
        self.group, self.version, self.name, self.kind = group, version, name, kind
        self.namespaced, self.short, self.status, self.crd = namespaced, list(short), status, crd
        self.categories, self.verbs = list(categories), verbs
        self.singular = singular or kind.lower()
        # CRs always carry metadata.generation; of the built-ins only these.
        self.generation = generation or crd
        self.fields = set(fields) | {"metadata.name", "metadata.namespace"}
        self.delete_returns_object = crd if delete_returns_object is None else delete_returns_object
        self.default_propagation = default_propagation

    @property
    def gv(self):
        return "%s/%s" % (self.group, self.version) if self.group else self.version

    @property
    def qualified(self):
        return "%s.%s" % (self.name, self.group) if self.group else self.name

    @property
    def key(self):
        return (self.group, self.version, self.name)

    def list_kind(self):
        return self.kind + "List"

    def base_path(self, ns=None):
        p = "/apis/" + self.gv if self.group else "/api/" + self.version
        if self.namespaced and ns is not None:
            p += "/namespaces/" + ns
        return p + "/" + self.name


RESOURCES = [
    Res("", "v1", "namespaces", "Namespace", False, ["ns"], status=True,
        fields=["status.phase"], delete_returns_object=True),
    Res("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ["pvc"],
        status=True, categories=()),
    Res("", "v1", "pods", "Pod", True, ["po"], status=True, categories=["all"],
        fields=["spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                "spec.serviceAccountName", "status.phase", "status.podIP",
                "status.nominatedNodeName"], delete_returns_object=True),
    Res("", "v1", "events", "Event", True, ["ev"],
        fields=["involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                "involvedObject.uid", "involvedObject.apiVersion",
                "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
                "reportingComponent", "source", "type"]),
    Res("", "v1", "secrets", "Secret", True, fields=["type"]),
    Res("", "v1", "configmaps", "ConfigMap", True, ["cm"]),
    Res("", "v1", "serviceaccounts", "ServiceAccount", True, ["sa"]),
    Res("batch", "v1", "jobs", "Job", True, status=True, categories=["all"], generation=True,
        fields=["status.successful"], default_propagation="Orphan"),
    Res("kubevirt.io", "v1", "virtualmachines", "VirtualMachine", True, ["vm", "vms"],
        status=True, crd=True, categories=["all"]),
    Res("kubevirt.io", "v1", "virtualmachineinstances", "VirtualMachineInstance", True,
        ["vmi", "vmis"], status=True, crd=True, categories=["all"]),
    Res("cdi.kubevirt.io", "v1beta1", "datavolumes", "DataVolume", True, ["dv", "dvs"],
        status=True, crd=True, categories=["all"]),
    Res("cdi.kubevirt.io", "v1beta1", "storageprofiles", "StorageProfile", False,
        status=True, crd=True),
    Res("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ["sc"]),
    Res("k8s.cni.cncf.io", "v1", "network-attachment-definitions",
        "NetworkAttachmentDefinition", True, ["net-attach-def"], crd=True,
        singular="network-attachment-definition"),
    Res("coordination.k8s.io", "v1", "leases", "Lease", True),
]
BY_GVR = {r.key: r for r in RESOURCES}
BY_KIND = {(r.group, r.kind): r for r in RESOURCES}


def res_for(group, version, name):
    return BY_GVR.get((group, version, name))


def group_versions():
    """[(group, [versions])] in discovery order (core first)."""
    out = collections.OrderedDict()
    for r in RESOURCES:
        out.setdefault(r.group, [])
        if r.version not in out[r.group]:
            out[r.group].append(r.version)
    return list(out.items())


# ---------------------------------------------------------------- validation

_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUB = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_MSG_LABEL = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
              "or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  "
              "or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
_MSG_SUB = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
            "'-' or '.', and must start and end with an alphanumeric character (e.g. "
            "'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


def validate_name(res, name):
    causes = []
    label = res.name in ("namespaces", "jobs")  # a Job's name goes into a label value
    if label:
        if len(name) > 63:
            causes.append(("metadata.name", "FieldValueInvalid",
                           'Invalid value: "%s": must be no more than 63 characters' % name))
        elif not _DNS1123_LABEL.match(name):
            causes.append(("metadata.name", "FieldValueInvalid",
                           'Invalid value: "%s": %s' % (name, _MSG_LABEL)))
    elif len(name) > 253 or not _DNS1123_SUB.match(name):
        causes.append(("metadata.name", "FieldValueInvalid",
                       'Invalid value: "%s": %s' % (name, _MSG_SUB)))
    return causes


def validate_labels(meta, field="metadata.labels"):
    causes = []
    for k, v in (meta.get("labels") or {}).items():
        prefix, _, name = k.rpartition("/")
        if (prefix and (len(prefix) > 253 or not _DNS1123_SUB.match(prefix))) or \
                len(name) > 63 or not _LABEL_NAME.match(name):
            causes.append((field, "FieldValueInvalid",
                           'Invalid value: "%s": name part must consist of alphanumeric '
                           "characters, '-', '_' or '.', and must start and end with an "
                           "alphanumeric character" % k))
        if not isinstance(v, str):
            causes.append((field, "FieldValueInvalid", "Invalid value: %s: must be a string"
                           % json.dumps(v)))
        elif v and (len(v) > 63 or not _LABEL_NAME.match(v)):
            causes.append((field, "FieldValueInvalid",
                           'Invalid value: "%s": a valid label must be an empty string or '
                           "consist of alphanumeric characters, '-', '_' or '.', and must "
                           "start and end with an alphanumeric character" % v))
    return causes


# ---------------------------------------------------------------- selectors


class Selector:
    """A parsed labelSelector: a list of (key, op, values)."""

    _TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|[^\s!=(),]+)")

    def __init__(self, text):
        self.reqs = []
        text = text or ""
        toks = []
        pos = 0
        while pos < len(text):
            m = self._TOKEN.match(text, pos)
            if not m or m.end() == pos:
                if text[pos:].strip() == "":
                    break
                raise err_bad_request("unable to parse requirement: invalid label selector: %s"
                                      % text)
            toks.append(m.group(1))
            pos = m.end()
        i = 0

        def bad(why):
            return err_bad_request("unable to parse requirement: %s" % why)

        while i < len(toks):
            t = toks[i]
            if t == ",":
                i += 1
                continue
            if t == "!":
                if i + 1 >= len(toks):
                    raise bad("found '', expected: identifier")
                self.reqs.append((toks[i + 1], "!", None))
                i += 2
                continue
            key = t
            i += 1
            if i >= len(toks) or toks[i] == ",":
                self.reqs.append((key, "exists", None))
                continue
            op = toks[i]
            i += 1
            if op in ("=", "==", "!="):
                val = ""
                if i < len(toks) and toks[i] != ",":
                    val = toks[i]
                    i += 1
                self.reqs.append((key, "!=" if op == "!=" else "=", [val]))
            elif op in ("in", "notin"):
                if i >= len(toks) or toks[i] != "(":
                    raise bad("found '%s', expected: '('" % (toks[i] if i < len(toks) else ""))
                i += 1
                vals = []
                while i < len(toks) and toks[i] != ")":
                    if toks[i] != ",":
                        vals.append(toks[i])
                    i += 1
                if i >= len(toks):
                    raise bad("found '', expected: ')'")
                i += 1
                self.reqs.append((key, op, vals))
            else:
                raise bad("found '%s', expected: in, notin, =, ==, !=, gt, lt" % op)
        for k, _, vals in self.reqs:
            if not _LABEL_NAME.match(k.rpartition("/")[2]):
                raise bad("invalid label key \"%s\"" % k)

    def matches(self, labels):
        labels = labels or {}
        for k, op, vals in self.reqs:
            has = k in labels
            v = labels.get(k)
            if op == "exists" and not has:
                return False
            if op == "!" and has:
                return False
            if op in ("=", "in") and (not has or v not in vals):
                return False
            if op in ("!=", "notin") and has and v in vals:
                return False
        return True


class FieldSelector:
    def __init__(self, text, res):
        self.reqs = []
        for part in (text or "").split(","):
            part = part.strip()
            if not part:
                continue
            m = re.fullmatch(r"([^=!]+?)\s*(==|=|!=)\s*(.*)", part)
            if not m:
                raise err_bad_request("invalid selector: '%s'; can't understand '%s'"
                                      % (text, part))
            f, op, v = m.group(1), m.group(2), m.group(3)
            if f not in res.fields:
                raise err_bad_request('"%s" is not a known field selector: only "%s"'
                                      % (f, '", "'.join(sorted(res.fields))))
            self.reqs.append((f, op != "!=", v))

    @staticmethod
    def value(obj, f):
        if f == "source":
            return dig(obj, "source", "component", default="")
        if f == "status.successful":
            return str(dig(obj, "status", "succeeded", default=0))
        v = dig(obj, *f.split("."), default="")
        return v if isinstance(v, str) else json.dumps(v) if v != "" else ""

    def matches(self, obj):
        return all((self.value(obj, f) == v) == eq for f, eq, v in self.reqs)


# ---------------------------------------------------------------- patches


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# Strategic merge patch: list fields merged by key (the patchMergeKey of the
# built-in types ferry's objects use); other lists are replaced, as JSON
# merge patch does. Primitive lists merged as sets: finalizers.
SMP_MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "env": "name", "ports": "containerPort", "conditions": "type",
    "imagePullSecrets": "name", "ownerReferences": "uid", "hostAliases": "ip",
    "readinessGates": "conditionType", "secrets": "name", "containerStatuses": "name",
}
SMP_SET_LISTS = {"finalizers"}


def _smp_list(cur, patch, key):
    cur = copy.deepcopy(cur) if isinstance(cur, list) else []
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [copy.deepcopy(p) for p in patch if not (isinstance(p, dict) and "$patch" in p)]
    for p in patch:
        if not isinstance(p, dict) or key not in p:
            cur.append(copy.deepcopy(p))
            continue
        idx = next((i for i, c in enumerate(cur) if isinstance(c, dict) and c.get(key) == p[key]),
                   None)
        if p.get("$patch") == "delete":
            if idx is not None:
                del cur[idx]
            continue
        if idx is None:
            cur.append(strategic_merge_patch({}, p))
        else:
            cur[idx] = strategic_merge_patch(cur[idx], p)
    return cur


def strategic_merge_patch(target, patch):
    """An approximation of strategic merge patch (README.md: what is not modelled)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    orders = {}
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            f = k.split("/", 1)[1]
            if isinstance(out.get(f), list):
                out[f] = [x for x in out[f] if x not in (v or [])]
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, list) and k in SMP_MERGE_KEYS and all(isinstance(x, dict) for x in v):
            out[k] = _smp_list(out.get(k), v, SMP_MERGE_KEYS[k])
        elif isinstance(v, list) and k in SMP_SET_LISTS:
            cur = list(out.get(k) or [])
            out[k] = cur + [x for x in v if x not in cur]
        elif isinstance(v, dict):
            if isinstance(v, dict) and v.get("$patch") == "delete":
                out.pop(k, None)
            else:
                out[k] = strategic_merge_patch(out.get(k), v)
        else:
            out[k] = copy.deepcopy(v)
    for f, order in orders.items():
        if not isinstance(out.get(f), list) or not isinstance(order, list):
            continue
        key = SMP_MERGE_KEYS.get(f)

        def ident(x):
            return x.get(key) if key and isinstance(x, dict) else json.dumps(x, sort_keys=True)

        rank = {ident(o): i for i, o in enumerate(order)}
        out[f] = sorted(out[f], key=lambda x: rank.get(ident(x), len(rank)))
    if isinstance(retain, list):
        for k in list(out):
            if k not in retain and k not in patch:
                out.pop(k)
    return out


def _ptr(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError("JSON pointer must start with '/': %r" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _ptr_parent(doc, parts):
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, list):
            cur = cur[int(p)]
        elif isinstance(cur, dict) and p in cur:
            cur = cur[p]
        else:
            raise KeyError("missing path: /%s" % "/".join(parts))
    return cur


def json_patch(doc, ops):
    """RFC 6902 JSON patch."""
    if not isinstance(ops, list):
        raise ValueError("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, path = op.get("op"), op.get("path")
        parts = _ptr(path)

        def get(parts_):
            cur = doc
            for p in parts_:
                cur = cur[int(p)] if isinstance(cur, list) else cur[p]
            return cur

        if kind == "test":
            if get(parts) != op.get("value"):
                raise ValueError("testing value %s failed" % path)
            continue
        if kind in ("move", "copy"):
            val = copy.deepcopy(get(_ptr(op["from"])))
            if kind == "move":
                fp = _ptr(op["from"])
                par = _ptr_parent(doc, fp)
                if isinstance(par, list):
                    del par[int(fp[-1])]
                else:
                    del par[fp[-1]]
            kind, op = "add", {"value": val}
        if not parts:
            if kind in ("add", "replace"):
                doc = copy.deepcopy(op["value"])
                continue
            raise ValueError("cannot remove the root")
        par = _ptr_parent(doc, parts)
        last = parts[-1]
        if isinstance(par, list):
            if kind == "add":
                idx = len(par) if last == "-" else int(last)
                if idx > len(par):
                    raise IndexError("index out of range: %s" % path)
                par.insert(idx, copy.deepcopy(op["value"]))
            elif kind == "replace":
                par[int(last)] = copy.deepcopy(op["value"])
            elif kind == "remove":
                del par[int(last)]
            else:
                raise ValueError("unknown operation %r" % kind)
        elif isinstance(par, dict):
            if kind == "add":
                par[last] = copy.deepcopy(op["value"])
            elif kind == "replace":
                if last not in par:
                    raise KeyError("replace operation does not apply: doc is missing key: %s"
                                   % path)
                par[last] = copy.deepcopy(op["value"])
            elif kind == "remove":
                if last not in par:
                    raise KeyError("remove operation does not apply: doc is missing path: %s"
                                   % path)
                del par[last]
            else:
                raise ValueError("unknown operation %r" % kind)
        else:
            raise KeyError("doc is missing path: %s" % path)
    return doc


# ---------------------------------------------------------------- YAML subset


class YamlError(ValueError):
    pass


def yaml_load(text):
    """A small YAML subset: block mappings and sequences, flow {} and [] (as
    JSON, or simple comma lists), plain/single/double quoted scalars, |
    and > block scalars, comments, one document. JSON parses first."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    lines = []
    for raw in text.splitlines():
        if raw.strip() in ("---", "...") and not lines:
            continue
        if raw.strip() in ("---", "..."):
            break
        lines.append(raw.rstrip("\r"))
    pos = [0]

    def indent(s):
        return len(s) - len(s.lstrip(" "))

    def is_blank(s):
        st = s.strip()
        return st == "" or st.startswith("#")

    def strip_comment(s):
        out, q = [], None
        for i, ch in enumerate(s):
            if q:
                if ch == q:
                    q = None
            elif ch in "'\"" and (i == 0 or s[i - 1] in " :[{,-"):
                q = ch
            elif ch == "#" and (i == 0 or s[i - 1] == " "):
                break
            out.append(ch)
        return "".join(out).rstrip()

    def scalar(s):
        s = s.strip()
        if s == "" or s in ("~", "null", "Null", "NULL"):
            return None
        if s[0] == '"':
            return json.loads(s)
        if s[0] == "'":
            return s[1:-1].replace("''", "'")
        if s[0] in "[{":
            try:
                return json.loads(s)
            except ValueError:
                inner = s[1:-1].strip()
                if s[0] == "[":
                    return [scalar(x) for x in inner.split(",")] if inner else []
                d = {}
                for part in inner.split(","):
                    if part.strip():
                        k, _, v = part.partition(":")
                        d[scalar(k)] = scalar(v)
                return d
        if s in ("true", "True", "TRUE"):
            return True
        if s in ("false", "False", "FALSE"):
            return False
        if re.fullmatch(r"[-+]?[0-9]+", s):
            return int(s)
        if re.fullmatch(r"[-+]?([0-9]*\.[0-9]+|[0-9]+\.[0-9]*)([eE][-+]?[0-9]+)?", s):
            return float(s)
        return s

    def skip_blank():
        while pos[0] < len(lines) and is_blank(lines[pos[0]]):
            pos[0] += 1

    def block_scalar(style, ind):
        buf = []
        while pos[0] < len(lines):
            ln = lines[pos[0]]
            if ln.strip() and indent(ln) <= ind:
                break
            buf.append(ln)
            pos[0] += 1
        nonblank = [b for b in buf if b.strip()]
        cut = min((indent(b) for b in nonblank), default=0)
        body = [b[cut:] for b in buf]
        while body and not body[-1].strip():
            body.pop()
        if style.startswith(">"):
            text_ = " ".join(body)
        else:
            text_ = "\n".join(body)
        return text_ if style.endswith("-") else text_ + "\n"

    def parse_value_after(rest, ind):
        rest = strip_comment(rest).strip()
        if rest in ("|", "|-", "|+", ">", ">-", ">+"):
            return block_scalar(rest, ind)
        if rest:
            return scalar(rest)
        skip_blank()
        if pos[0] < len(lines):
            ni = indent(lines[pos[0]])
            nl = lines[pos[0]].strip()
            if ni > ind or (ni == ind and nl.startswith("- ") or nl == "-") and ni >= ind:
                if ni > ind or nl.startswith("-"):
                    return parse_block(ni)
        return None

    def parse_block(ind):
        skip_blank()
        if pos[0] >= len(lines):
            return None
        first = lines[pos[0]].strip()
        if first.startswith("- ") or first == "-":
            return parse_seq(ind)
        return parse_map(ind)

    def parse_seq(ind):
        out = []
        while True:
            skip_blank()
            if pos[0] >= len(lines):
                break
            ln = lines[pos[0]]
            if indent(ln) != ind or not (ln.strip().startswith("- ") or ln.strip() == "-"):
                break
            item = ln.strip()[1:]
            if not item.strip():
                pos[0] += 1
                out.append(parse_value_after("", ind))
                continue
            # "- key: value" starts a mapping at the item's column.
            col = ind + 1 + (len(item) - len(item.lstrip(" ")))
            body = strip_comment(item).strip()
            if re.match(r"^(\"[^\"]*\"|'[^']*'|[^\s\"'\[{][^:]*?):(\s|$)", body):
                lines[pos[0]] = " " * col + item.lstrip(" ")
                out.append(parse_map(col))
            else:
                pos[0] += 1
                out.append(scalar(body))
        return out

    def parse_map(ind):
        out = {}
        while True:
            skip_blank()
            if pos[0] >= len(lines):
                break
            ln = lines[pos[0]]
            if indent(ln) != ind:
                if indent(ln) > ind:
                    raise YamlError("bad indentation at line: %r" % ln)
                break
            body = ln.strip()
            if body.startswith("- "):
                break
            m = re.match(r"^(\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^:#][^:]*?)\s*:(\s+|$)(.*)$", body)
            if not m:
                raise YamlError("cannot parse line: %r" % ln)
            key = scalar(m.group(1))
            pos[0] += 1
            out[str(key) if not isinstance(key, str) else key] = parse_value_after(m.group(3), ind)
        return out

    skip_blank()
    if pos[0] >= len(lines):
        return None
    if len([ln for ln in lines if not is_blank(ln)]) == 1 and ":" not in lines[pos[0]] \
            and not lines[pos[0]].strip().startswith("-"):
        return scalar(strip_comment(lines[pos[0]]))
    v = parse_block(indent(lines[pos[0]]))
    skip_blank()
    if pos[0] < len(lines):
        raise YamlError("unexpected content at line: %r" % lines[pos[0]])
    return v


def yaml_quote(s):
    return json.dumps(s)


# ---------------------------------------------------------------- storage

SA_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def is_latest(image):
    last = (image or "").rsplit("/", 1)[-1]
    if "@" in last:
        return False
    return ":" not in last or last.endswith(":latest")


def default_container(c):
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("imagePullPolicy", "Always" if is_latest(c.get("image")) else "IfNotPresent")
    c.setdefault("resources", {})


def default_pod_spec(spec, for_pod):
    if for_pod:
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.setdefault("priority", 0)
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("tolerations", [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
             "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
             "effect": "NoExecute", "tolerationSeconds": 300}])
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        if isinstance(c, dict):
            default_container(c)
    for v in spec.get("volumes") or []:
        if isinstance(v, dict):
            for src in ("secret", "configMap"):
                if isinstance(v.get(src), dict):
                    v[src].setdefault("defaultMode", 420)
            if "emptyDir" in v and v["emptyDir"] is None:
                v["emptyDir"] = {}


def validate_pod_spec(spec, field, job):
    causes = []
    if not isinstance(spec, dict):
        return [(field, "FieldValueRequired", "Required value")]
    cs = spec.get("containers")
    if not isinstance(cs, list) or not cs:
        causes.append((field + ".containers", "FieldValueRequired", "Required value"))
    for i, c in enumerate(cs or []):
        f = "%s.containers[%d]" % (field, i)
        if not isinstance(c, dict):
            causes.append((f, "FieldValueInvalid", "Invalid value"))
            continue
        if not c.get("name"):
            causes.append((f + ".name", "FieldValueRequired", "Required value"))
        if not c.get("image"):
            causes.append((f + ".image", "FieldValueRequired", "Required value"))
        for j, d in enumerate(c.get("volumeDevices") or []):
            if not any(v.get("name") == d.get("name") for v in spec.get("volumes") or []):
                causes.append(("%s.volumeDevices[%d].name" % (f, j), "FieldValueNotFound",
                               'Not found: "%s"' % d.get("name")))
        for j, m in enumerate(c.get("volumeMounts") or []):
            if not any(v.get("name") == m.get("name") for v in spec.get("volumes") or []):
                causes.append(("%s.volumeMounts[%d].name" % (f, j), "FieldValueNotFound",
                               'Not found: "%s"' % m.get("name")))
    rp = spec.get("restartPolicy")
    if job and rp not in ("Never", "OnFailure"):
        if rp is None:
            causes.append((field + ".restartPolicy", "FieldValueRequired",
                           'Required value: valid values: "OnFailure", "Never"'))
        else:
            causes.append((field + ".restartPolicy", "FieldValueNotSupported",
                           'Unsupported value: "%s": supported values: "OnFailure", "Never"' % rp))
    return causes


class Store:
    """Objects keyed (group, version, resource, namespace, name), one global
    resourceVersion counter, and a bounded history of watch events."""

    def __init__(self, history_max):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.objs = {}
        self.rv = 0
        self.history = collections.deque()
        self.history_max = history_max
        self.floor = 0  # resourceVersion of the newest event dropped from history
        self.on_event = None  # controller hook, called with the lock held

    @staticmethod
    def key(res, ns, name):
        return (res.group, res.version, res.name, ns or "", name)

    def next_rv(self):
        self.rv += 1
        return self.rv

    def get(self, res, ns, name):
        return self.objs.get(self.key(res, ns, name))

    def items(self, res, ns=None):
        out = []
        for k, o in self.objs.items():
            if k[:3] == res.key and (ns is None or k[3] == ns):
                out.append(o)
        out.sort(key=lambda o: (dig(o, "metadata", "namespace", default=""),
                                o["metadata"]["name"]))
        return out

    def record(self, res, evtype, obj, old):
        rv = int(obj["metadata"]["resourceVersion"])
        self.history.append((rv, res.key, dig(obj, "metadata", "namespace", default=""),
                             evtype, copy.deepcopy(obj), copy.deepcopy(old)))
        while len(self.history) > self.history_max:
            self.floor = self.history.popleft()[0]
        self.cond.notify_all()
        if self.on_event:
            self.on_event(evtype, res, obj, old)

    def compact(self, keep=0):
        """Drops all but the newest `keep` events (as etcd compaction would)."""
        with self.lock:
            while len(self.history) > keep:
                self.floor = self.history.popleft()[0]
            if not self.history:
                self.floor = self.rv
            self.cond.notify_all()

    def put(self, res, obj, evtype, old=None):
        obj["metadata"]["resourceVersion"] = str(self.next_rv())
        self.objs[self.key(res, obj["metadata"].get("namespace"), obj["metadata"]["name"])] = obj
        self.record(res, evtype, obj, old)
        return obj

    def remove(self, res, obj):
        k = self.key(res, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        old = self.objs.pop(k, None)
        if old is None:
            return None
        gone = copy.deepcopy(old)
        gone["metadata"]["resourceVersion"] = str(self.next_rv())
        self.record(res, "DELETED", gone, old)
        return gone


def with_kind(res, obj):
    obj["apiVersion"], obj["kind"] = res.gv, res.kind
    # apiVersion and kind first, as the apiserver encodes them
    o = {"apiVersion": res.gv, "kind": res.kind}
    o.update(obj)
    return o


class Api:
    """The REST semantics, independent of HTTP. Methods raise ApiError."""

    def __init__(self, fake):
        self.fake = fake
        self.store = fake.store
        self.lock = fake.store.lock

    # ---- helpers

    def manager(self, params, ua):
        m = params.get("fieldManager")
        if m:
            return m[:128]
        return (ua or "unknown").split("/", 1)[0][:128] or "unknown"

    @staticmethod
    def touch_managed(meta, manager, operation, gv, sub=None):
        mf = [e for e in meta.get("managedFields") or []
              if not (e.get("manager") == manager and e.get("operation") == operation and
                      e.get("subresource") == sub)]
        e = {"manager": manager, "operation": operation, "apiVersion": gv, "time": now_ts(),
             "fieldsType": "FieldsV1", "fieldsV1": {}}
        if sub:
            e["subresource"] = sub
        mf.append(e)
        meta["managedFields"] = mf

    def require_namespace(self, res, ns):
        if not res.namespaced:
            return
        nsres = BY_GVR[("", "v1", "namespaces")]
        cur = self.store.get(nsres, None, ns)
        if cur is None:
            raise err_not_found(nsres, ns)
        if dig(cur, "metadata", "deletionTimestamp") or dig(cur, "status", "phase") == "Terminating":
            raise ApiError(403, "Forbidden",
                           '%s "%s" is forbidden: unable to create new content in namespace %s '
                           "because it is being terminated" % (res.qualified, "", ns),
                           _details(res, None, causes=[{"reason": "NamespaceTerminating",
                                                        "message": "namespace %s is being "
                                                        "terminated" % ns,
                                                        "field": "metadata.namespace"}]))

    def check_kind(self, res, body):
        if not isinstance(body, dict):
            raise err_bad_request("the body of the request was in an unknown format")
        av, kind = body.get("apiVersion"), body.get("kind")
        if res.crd and (not av or not kind):
            what = "kind" if not kind else "apiVersion"
            raise err_bad_request("Object '%s' is missing in '%s'"
                                  % ("Kind" if what == "kind" else "apiVersion",
                                     json.dumps(body, separators=(",", ":"))[:200]))
        if av and av != res.gv:
            raise err_bad_request("the API version in the data (%s) does not match the expected "
                                  "API version (%s)" % (av, res.gv))
        if kind and kind != res.kind:
            raise err_bad_request("the kind in the data (%s) does not match the expected kind "
                                  "(%s)" % (kind, res.kind))

    def default(self, res, obj, old=None):
        """Server-side defaulting (built-in defaults and admission plugins)."""
        meta, spec = obj["metadata"], obj.get("spec")
        if res.name == "namespaces":
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
            if old is None or not isinstance(obj.get("spec"), dict):
                obj["spec"] = dict(obj.get("spec") or {}, finalizers=["kubernetes"])
            obj.setdefault("status", {}).setdefault("phase", "Active")
        elif res.name == "pods" and isinstance(spec, dict):
            default_pod_spec(spec, True)
            obj.setdefault("status", {}).setdefault("phase", "Pending")
            obj["status"].setdefault("qosClass", "BestEffort")
        elif res.name == "jobs" and isinstance(spec, dict):
            uid = meta["uid"]
            spec.setdefault("parallelism", 1)
            spec.setdefault("completions", 1)
            spec.setdefault("backoffLimit", 6)
            spec.setdefault("completionMode", "NonIndexed")
            spec.setdefault("suspend", False)
            spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
            if not spec.get("manualSelector"):
                spec.setdefault("selector", {"matchLabels": {
                    "batch.kubernetes.io/controller-uid": uid}})
                tm = spec.setdefault("template", {}).setdefault("metadata", {})
                labels = tm.setdefault("labels", {})
                labels.setdefault("batch.kubernetes.io/controller-uid", uid)
                labels.setdefault("batch.kubernetes.io/job-name", meta["name"])
                labels.setdefault("controller-uid", uid)
                labels.setdefault("job-name", meta["name"])
            if isinstance(spec.get("template"), dict) and isinstance(spec["template"].get("spec"), dict):
                default_pod_spec(spec["template"]["spec"], False)
        elif res.name == "persistentvolumeclaims" and isinstance(spec, dict):
            spec.setdefault("volumeMode", "Filesystem")
            if spec.get("storageClassName") is None and old is None:
                sc = self.fake.default_storage_class()
                if sc:
                    spec["storageClassName"] = sc
            obj.setdefault("status", {}).setdefault("phase", "Pending")
        elif res.name == "storageclasses":
            obj.setdefault("reclaimPolicy", "Delete")
            obj.setdefault("volumeBindingMode", "Immediate")
        elif res.name == "secrets":
            obj.setdefault("type", "Opaque")
            for k, v in list((obj.get("stringData") or {}).items()):
                obj.setdefault("data", {})[k] = base64.b64encode(str(v).encode()).decode()
            obj.pop("stringData", None)
        elif res.name == "events":
            obj.setdefault("type", "Normal")
            obj.setdefault("count", 1)
        elif res.name == "virtualmachines" and isinstance(spec, dict):
            # KubeVirt's mutating webhook: a machine type for the template.
            dom = dig(spec, "template", "spec", "domain")
            if isinstance(dom, dict):
                dom.setdefault("machine", {}).setdefault("type", "q35")

    def validate(self, res, obj, old=None):
        meta = obj["metadata"]
        causes = validate_labels(meta)
        spec = obj.get("spec")
        if res.name == "jobs":
            causes += validate_pod_spec(dig(obj, "spec", "template", "spec"),
                                        "spec.template.spec", True)
            if old is not None:
                for f in ("template", "selector", "completions", "completionMode"):
                    if dig(old, "spec", f) != dig(obj, "spec", f):
                        causes.append(("spec.%s" % f, "FieldValueInvalid",
                                       "Invalid value: %s: field is immutable"
                                       % json.dumps(dig(obj, "spec", f))[:200]))
        elif res.name == "pods":
            causes += validate_pod_spec(spec, "spec", False)
            if old is not None:
                a, b = copy.deepcopy(old.get("spec") or {}), copy.deepcopy(spec or {})
                for s in (a, b):
                    s.pop("activeDeadlineSeconds", None)
                    s.pop("tolerations", None)
                    for c in (s.get("containers") or []) + (s.get("initContainers") or []):
                        c.pop("image", None)
                if a != b:
                    causes.append(("spec", "FieldValueForbidden",
                                   "Forbidden: pod updates may not change fields other than "
                                   "`spec.containers[*].image`, `spec.initContainers[*].image`, "
                                   "`spec.activeDeadlineSeconds`, `spec.tolerations` (only "
                                   "additions to existing tolerations), "
                                   "`spec.terminationGracePeriodSeconds` (allow it to be set to "
                                   "1 if it was previously negative)"))
        elif res.name == "persistentvolumeclaims":
            if not isinstance(spec, dict):
                spec = {}
            if not spec.get("accessModes"):
                causes.append(("spec.accessModes", "FieldValueRequired",
                               "Required value: at least 1 access mode is required"))
            st = dig(spec, "resources", "requests", "storage")
            if st is None:
                causes.append(("spec.resources[storage]", "FieldValueRequired", "Required value"))
            else:
                try:
                    parse_quantity(st)
                except ValueError as e:
                    causes.append(("spec.resources.requests[storage]", "FieldValueInvalid",
                                   "Invalid value: %s: %s" % (json.dumps(st), e)))
            if spec.get("volumeMode") not in (None, "Filesystem", "Block"):
                causes.append(("spec.volumeMode", "FieldValueNotSupported",
                               'Unsupported value: "%s": supported values: "Block", '
                               '"Filesystem"' % spec.get("volumeMode")))
            if old is not None:
                a, b = copy.deepcopy(old.get("spec") or {}), copy.deepcopy(spec)
                for s in (a, b):
                    s.pop("resources", None)
                    s.pop("volumeAttributesClassName", None)
                if not a.get("volumeName"):
                    b.pop("volumeName", None)
                    a.pop("volumeName", None)
                    # RetroactiveDefaultStorageClass (GA in 1.28): an unbound
                    # claim without a class may be given one
                    if a.get("storageClassName") is None:
                        b.pop("storageClassName", None)
                if a != b:
                    causes.append(("spec", "FieldValueForbidden",
                                   "Forbidden: spec is immutable after creation except "
                                   "resources.requests and volumeAttributesClassName for bound "
                                   "claims"))
                try:
                    new_q = parse_quantity(dig(spec, "resources", "requests", "storage",
                                               default=0))
                    old_q = parse_quantity(dig(old, "spec", "resources", "requests", "storage",
                                               default=0))
                except ValueError:
                    new_q = old_q = 0
                if new_q < old_q:
                    causes.append(("spec.resources.requests.storage", "FieldValueForbidden",
                                   "Forbidden: field can not be less than status.capacity"))
                elif new_q > old_q:
                    # The PersistentVolumeClaimResize admission plugin.
                    sc = self.store.get(R_SC, None, spec.get("storageClassName") or "")
                    if not sc or not sc.get("allowVolumeExpansion"):
                        raise ApiError(403, "Forbidden",
                                       'persistentvolumeclaims "%s" is forbidden: only dynamically '
                                       "provisioned pvc can be resized and the storageclass that "
                                       "provisions the pvc must support resize" % meta["name"],
                                       _details(res, meta["name"]))
        elif res.name == "storageclasses" and old is not None:
            for f in ("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"):
                if old.get(f) != obj.get(f):
                    causes.append((f, "FieldValueForbidden", "Forbidden: updates to %s are "
                                   "forbidden." % f))
        elif res.name == "storageclasses" and not obj.get("provisioner"):
            causes.append(("provisioner", "FieldValueRequired", "Required value"))
        if causes:
            raise err_invalid(res, meta.get("name", ""), causes)

    # ---- read

    def get(self, res, ns, name):
        with self.lock:
            o = self.store.get(res, ns, name)
            if o is None:
                raise err_not_found(res, name)
            return copy.deepcopy(o)

    def list(self, res, ns, params):
        """params: dict of single values. Returns the List object."""
        lsel = Selector(params.get("labelSelector"))
        fsel = FieldSelector(params.get("fieldSelector"), res)
        limit = params.get("limit")
        try:
            limit = int(limit) if limit not in (None, "") else 0
        except ValueError:
            raise err_bad_request("invalid limit %r" % limit)
        start, list_rv = None, None
        cont = params.get("continue")
        if cont:
            try:
                tok = json.loads(base64.urlsafe_b64decode(cont + "=" * (-len(cont) % 4)))
                start, list_rv = tuple(tok["start"]), int(tok["rv"])
            except (ValueError, KeyError, TypeError):
                raise err_bad_request("continue key is not valid: incorrect encoded start "
                                      "resourceVersion (version meta.k8s.io/v1)")
            if list_rv < self.store.floor:
                raise ApiError(410, "Expired",
                               "The provided continue parameter is too old to display a "
                               "consistent list result. You can start a new list without the "
                               "continue parameter, or use the continue value from the "
                               "response to get a consistent list result.")
        with self.lock:
            items = [copy.deepcopy(o) for o in self.store.items(res, ns if res.namespaced else None)
                     if lsel.matches(dig(o, "metadata", "labels")) and fsel.matches(o)]
            cur_rv = self.store.rv
        if start is not None:
            items = [o for o in items
                     if (dig(o, "metadata", "namespace", default=""), o["metadata"]["name"]) > start]
        meta = {"resourceVersion": str(list_rv if list_rv is not None else cur_rv)}
        if limit > 0 and len(items) > limit:
            last = items[limit - 1]
            tok = {"rv": list_rv if list_rv is not None else cur_rv,
                   "start": [dig(last, "metadata", "namespace", default=""),
                             last["metadata"]["name"]]}
            meta["continue"] = base64.urlsafe_b64encode(
                json.dumps(tok, separators=(",", ":")).encode()).decode().rstrip("=")
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        if not res.crd:
            # Built-in lists carry items without apiVersion/kind, as the
            # apiserver encodes typed lists; custom resources keep them.
            for o in items:
                o.pop("apiVersion", None)
                o.pop("kind", None)
        return {"kind": res.list_kind(), "apiVersion": res.gv, "metadata": meta, "items": items}

    # ---- write

    def create(self, res, ns, body, params, ua="", internal=False):
        self.check_kind(res, body)
        obj = copy.deepcopy(body)
        obj = with_kind(res, obj)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        if res.namespaced:
            bns = meta.get("namespace")
            if bns and ns and bns != ns:
                raise err_bad_request("the namespace of the provided object does not match the "
                                      "namespace sent on the request")
            ns = ns or bns
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        if meta.get("resourceVersion"):
            raise ApiError(500, "InternalError",
                           "resourceVersion should not be set on objects to be created",
                           {"causes": [{"message": "resourceVersion should not be set on "
                                        "objects to be created"}]})
        dry = params.get("dryRun") == "All"
        with self.lock:
            if res.namespaced:
                self.require_namespace(res, ns)
            name = meta.get("name")
            if not name:
                gen = meta.get("generateName")
                if not gen:
                    raise err_invalid(res, "", [("metadata.name", "FieldValueRequired",
                                                 "Required value: name or generateName is "
                                                 "required")])
                for _ in range(8):
                    name = gen[:58] + rand_suffix()
                    if self.store.get(res, ns, name) is None:
                        break
                meta["name"] = name
            causes = validate_name(res, name)
            if causes:
                raise err_invalid(res, name, causes)
            if self.store.get(res, ns, name) is not None:
                raise err_already_exists(res, name)
            for f in ("deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"):
                meta.pop(f, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_ts()
            if res.generation:
                meta["generation"] = 1
            else:
                meta.pop("generation", None)
            if res.status and res.name not in ("pods",):
                obj.pop("status", None)
            if res.name == "pods" and not internal:
                obj.pop("status", None)
            self.default(res, obj)
            self.validate(res, obj)
            self.touch_managed(meta, self.manager(params, ua),
                               "Apply" if params.get("_apply") else "Update", res.gv)
            if dry:
                meta["resourceVersion"] = ""
                return copy.deepcopy(obj)
            self.store.put(res, obj, "ADDED")
            return copy.deepcopy(obj)

    def update(self, res, ns, name, body, params, ua="", sub=None, patch_op=None, internal=False):
        self.check_kind(res, body)
        new = with_kind(res, copy.deepcopy(body))
        meta = new.get("metadata")
        if not isinstance(meta, dict):
            meta = new["metadata"] = {}
        if meta.get("name") and meta["name"] != name:
            raise err_bad_request("the name of the object (%s) does not match the name on the "
                                  "URL (%s)" % (meta["name"], name))
        if res.namespaced and meta.get("namespace") and meta["namespace"] != ns:
            raise err_bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
        dry = params.get("dryRun") == "All"
        with self.lock:
            old = self.store.get(res, ns, name)
            if old is None:
                raise err_not_found(res, name)
            rv = meta.get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise err_conflict(res, name)
            if not rv and res.crd and patch_op is None:
                raise err_invalid(res, name, [("metadata.resourceVersion", "FieldValueInvalid",
                                               "Invalid value: 0x0: must be specified for an "
                                               "update")])
            if sub == "status":
                merged = copy.deepcopy(old)
                if "status" in new:
                    merged["status"] = new["status"]
                else:
                    merged.pop("status", None)
                new = merged
                meta = new["metadata"]
            else:
                for f in ("uid", "creationTimestamp", "deletionTimestamp",
                          "deletionGracePeriodSeconds", "generation", "managedFields"):
                    if f in old["metadata"]:
                        meta[f] = copy.deepcopy(old["metadata"][f])
                    else:
                        meta.pop(f, None)
                meta["name"] = name
                if res.namespaced:
                    meta["namespace"] = ns
                if res.status and not internal:
                    if "status" in old:
                        new["status"] = copy.deepcopy(old["status"])
                    else:
                        new.pop("status", None)
                self.default(res, new, old)
                if not internal:
                    self.validate(res, new, old)
            meta["resourceVersion"] = old["metadata"]["resourceVersion"]
            meta["managedFields"] = copy.deepcopy(old["metadata"].get("managedFields", []))
            if new == old:
                return copy.deepcopy(old)  # a no-op write changes nothing
            if res.generation and sub != "status":
                a = {k: v for k, v in old.items() if k not in ("metadata", "status")}
                b = {k: v for k, v in new.items() if k not in ("metadata", "status")}
                if a != b:
                    meta["generation"] = old["metadata"].get("generation", 1) + 1
            self.touch_managed(meta, self.manager(params, ua),
                               "Apply" if patch_op == "apply" else "Update", res.gv, sub)
            if dry:
                return copy.deepcopy(new)
            old_fins = old["metadata"].get("finalizers") or []
            if meta.get("deletionTimestamp") and not meta.get("finalizers") and old_fins and \
                    not meta.get("deletionGracePeriodSeconds"):
                # the last finalizer of an object being deleted went: it goes
                # (an object in its grace period waits for its final DELETE)
                self.store.put(res, new, "MODIFIED", old)
                self._finish_delete(res, new, "Background" if FOREGROUND in old_fins else None)
                return copy.deepcopy(new)
            self.store.put(res, new, "MODIFIED", old)
            return copy.deepcopy(new)

    def patch(self, res, ns, name, ctype, raw, params, ua="", sub=None):
        ctype = (ctype or "").split(";")[0].strip().lower()
        kinds = {"application/json-patch+json": "json",
                 "application/merge-patch+json": "merge",
                 "application/strategic-merge-patch+json": "strategic",
                 "application/apply-patch+yaml": "apply",
                 "application/apply-patch+cbor": None}
        op = kinds.get(ctype)
        accepted = ("application/json-patch+json, application/merge-patch+json, "
                    "application/apply-patch+yaml")
        if not res.crd:
            accepted = ("application/json-patch+json, application/merge-patch+json, "
                        "application/strategic-merge-patch+json, application/apply-patch+yaml")
        if op is None or (op == "strategic" and res.crd):
            raise ApiError(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted media "
                           "types include: " + accepted)
        try:
            text = raw.decode("utf-8")
            patch = yaml_load(text) if op == "apply" else json.loads(text)
        except (UnicodeDecodeError, ValueError) as e:
            raise err_bad_request("error decoding patch: %s" % e)
        if op == "apply":
            if not params.get("fieldManager"):
                raise err_bad_request("PATCH, application/apply-patch+yaml requires fieldManager "
                                      "to be set")
            if not isinstance(patch, dict) or not patch.get("apiVersion") or not patch.get("kind"):
                raise err_bad_request("error decoding YAML: Object 'Kind' is missing in apply "
                                      "configuration")
            self.check_kind(res, patch)
            pname = dig(patch, "metadata", "name")
            if pname and pname != name:
                raise err_bad_request("the name of the object (%s) does not match the name on "
                                      "the URL (%s)" % (pname, name))
        with self.lock:
            cur = self.store.get(res, ns, name)
            if cur is None:
                if op != "apply" or sub:
                    raise err_not_found(res, name)
                body = copy.deepcopy(patch)
                body.setdefault("metadata", {})["name"] = name
                p = dict(params)
                p["_apply"] = True
                return 201, self.create(res, ns, body, p, ua)
            try:
                if op == "json":
                    new = json_patch(cur, patch)
                elif op == "merge":
                    new = merge_patch(cur, patch)
                elif op == "strategic":
                    new = strategic_merge_patch(cur, patch)
                else:
                    new = strategic_merge_patch(cur, patch) if not res.crd else \
                        merge_patch(cur, patch)
            except (ValueError, KeyError, IndexError, TypeError) as e:
                raise ApiError(422, "Invalid", str(e), _details(res, name, kind=res.kind))
            if not isinstance(new, dict):
                raise err_bad_request("the patch did not produce an object")
            prv = dig(patch, "metadata", "resourceVersion") if isinstance(patch, dict) else None
            nm = new.setdefault("metadata", {})
            if op == "json":
                prv = nm.get("resourceVersion") if nm.get("resourceVersion") != \
                    cur["metadata"]["resourceVersion"] else None
            if prv:
                nm["resourceVersion"] = prv
            else:
                nm["resourceVersion"] = cur["metadata"]["resourceVersion"]
            return 200, self.update(res, ns, name, new, params, ua, sub, patch_op=op)

    def _dependents(self, uid):
        out = []
        for k, o in self.store.objs.items():
            for ref in dig(o, "metadata", "ownerReferences", default=[]) or []:
                if ref.get("uid") == uid:
                    out.append((BY_GVR[k[:3]], o))
        return out

    def _finish_delete(self, res, obj, policy=None):
        """Removes obj now, with its dependents per propagation policy."""
        policy = policy or res.default_propagation
        gone = self.store.remove(res, obj)
        uid = obj["metadata"]["uid"]
        if res.name == "namespaces":
            ns = obj["metadata"]["name"]
            for k in [k for k in self.store.objs if k[3] == ns and BY_GVR[k[:3]].namespaced]:
                o = self.store.objs.get(k)
                if o is not None:
                    self.store.remove(BY_GVR[k[:3]], o)
            return gone
        for dres, dep in self._dependents(uid):
            if policy == "Orphan":
                old = copy.deepcopy(dep)
                dep["metadata"]["ownerReferences"] = [
                    r for r in dep["metadata"]["ownerReferences"] if r.get("uid") != uid]
                if not dep["metadata"]["ownerReferences"]:
                    del dep["metadata"]["ownerReferences"]
                self.store.put(dres, dep, "MODIFIED", old)
            else:
                self._delete_obj(dres, dep, "Background")
        self._release_owners(obj)
        return gone

    def _by_uid(self, uid):
        for k, o in self.store.objs.items():
            if o["metadata"].get("uid") == uid:
                return BY_GVR[k[:3]], o
        return None

    def _blocking(self, uid):
        """Dependents that hold up their owner's foreground deletion."""
        return [o for _, o in self._dependents(uid)
                if any(r.get("uid") == uid and r.get("blockOwnerDeletion")
                       for r in o["metadata"].get("ownerReferences") or [])]

    def _release_owners(self, obj):
        """The garbage collector: an owner deleted in the foreground loses
        its foregroundDeletion finalizer (and goes) once no dependent that
        blocks it is left."""
        for ref in dig(obj, "metadata", "ownerReferences", default=[]) or []:
            if not ref.get("blockOwnerDeletion"):
                continue
            found = self._by_uid(ref.get("uid"))
            if found is None:
                continue
            ores, owner = found
            if FOREGROUND not in (owner["metadata"].get("finalizers") or []) or \
                    self._blocking(ref["uid"]):
                continue
            new = copy.deepcopy(owner)
            new["metadata"]["finalizers"] = [f for f in new["metadata"]["finalizers"]
                                             if f != FOREGROUND]
            if not new["metadata"]["finalizers"]:
                del new["metadata"]["finalizers"]
            try:
                self.update(ores, owner["metadata"].get("namespace"), owner["metadata"]["name"],
                            new, {"fieldManager": "kube-controller-manager"},
                            patch_op="internal", internal=True)
            except ApiError as e:
                self.fake.debug("garbage collector: %s" % e.message)

    @staticmethod
    def _pod_before_delete(pod, grace):
        """rest.BeforeDelete with the pod strategy's CheckGracefulDelete:
        sets deletionTimestamp (when the pod is to be gone) and
        deletionGracePeriodSeconds. grace: the DeleteOptions' value or None.
        Returns pending: a graceful deletion already under way that the
        request does not shorten (nothing to do)."""
        meta = pod["metadata"]
        now = time.time()
        if meta.get("deletionTimestamp"):
            cur = meta.get("deletionGracePeriodSeconds")
            if not cur:
                return False  # grace 0: delete it now
            if grace is None or grace >= cur:
                return True  # only a shorter grace period changes anything
            t0 = parse_ts(meta["deletionTimestamp"])
            at = (t0.timestamp() if t0 else now) - cur + grace
            if at < now:
                at = now
                if grace != 0:
                    grace = 1  # still graceful: the kubelet makes the final delete
            meta["deletionTimestamp"] = ts_at(at)
            meta["deletionGracePeriodSeconds"] = grace
            return False
        if grace is None:
            grace = dig(pod, "spec", "terminationGracePeriodSeconds", default=0) or 0
        if not dig(pod, "spec", "nodeName") or \
                dig(pod, "status", "phase") in ("Succeeded", "Failed"):
            grace = 0  # not scheduled, or already ended: nothing to wait for
        if grace < 0:
            grace = 1
        meta["deletionTimestamp"] = ts_at(now + grace)
        meta["deletionGracePeriodSeconds"] = grace
        return False

    def _delete_obj(self, res, obj, policy, grace=None):
        """The registry's delete, under the lock: a pod is given its grace
        period (the kubelet removes it), an object with finalizers, or
        deleted in the foreground, is only marked. Returns (obj, gone)."""
        meta = obj["metadata"]
        before = copy.deepcopy(obj)
        if res.name == "pods" and self._pod_before_delete(obj, grace):
            return obj, False
        fins = list(meta.get("finalizers") or [])
        foreground = policy == "Foreground" and FOREGROUND not in fins
        if foreground:
            meta["finalizers"] = fins + [FOREGROUND]
        if meta.get("finalizers") or meta.get("deletionGracePeriodSeconds"):
            meta.setdefault("deletionTimestamp", now_ts())
            meta.setdefault("deletionGracePeriodSeconds", 0)
            if meta != before["metadata"]:
                self.store.put(res, obj, "MODIFIED", before)
            if foreground:
                # the garbage collector deletes the dependents, then the owner
                for dres, dep in self._dependents(meta["uid"]):
                    self._delete_obj(dres, dep, "Background")
                self._release_owners({"metadata": {"ownerReferences": [
                    {"uid": meta["uid"], "blockOwnerDeletion": True}]}})
            return obj, False
        return self._finish_delete(res, obj, policy), True

    def delete(self, res, ns, name, params, body):
        opts = body if isinstance(body, dict) else {}
        policy = params.get("propagationPolicy") or opts.get("propagationPolicy")
        if opts.get("orphanDependents") is True or params.get("orphanDependents") == "true":
            policy = policy or "Orphan"
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise err_invalid(res, name, [("propagationPolicy", "FieldValueNotSupported",
                                           'Unsupported value: "%s": supported values: '
                                           '"Foreground", "Background", "Orphan", "nil"'
                                           % policy)])
        grace = opts["gracePeriodSeconds"] if opts.get("gracePeriodSeconds") is not None else \
            params.get("gracePeriodSeconds")
        if grace is not None:
            if isinstance(grace, bool) or not isinstance(grace, (int, str)) or \
                    (isinstance(grace, str) and not re.fullmatch(r"[-+]?[0-9]+", grace)):
                raise err_bad_request('strconv.ParseInt: parsing "%s": invalid syntax' % grace)
            grace = int(grace)
        dry = params.get("dryRun") == "All" or opts.get("dryRun") == ["All"]
        pre = opts.get("preconditions") or {}
        with self.lock:
            cur = self.store.get(res, ns, name)
            if cur is None:
                raise err_not_found(res, name)
            if pre.get("uid") and pre["uid"] != cur["metadata"]["uid"]:
                raise err_conflict(res, name, "Precondition failed: UID in precondition: %s, UID "
                                   "in object meta: %s" % (pre["uid"], cur["metadata"]["uid"]))
            if pre.get("resourceVersion") and pre["resourceVersion"] != \
                    cur["metadata"]["resourceVersion"]:
                raise err_conflict(res, name, "Precondition failed: ResourceVersion in "
                                   "precondition: %s, ResourceVersion in object meta: %s"
                                   % (pre["resourceVersion"], cur["metadata"]["resourceVersion"]))
            if dry:
                return 200, copy.deepcopy(cur) if res.delete_returns_object else \
                    self._success(res, cur)
            pol = policy or res.default_propagation
            if res.name == "namespaces":
                # The namespace lifecycle controller empties it; the fake
                # does that at once and returns it as Terminating.
                resp = copy.deepcopy(cur)
                resp["metadata"]["deletionTimestamp"] = now_ts()
                resp.setdefault("status", {})["phase"] = "Terminating"
                self._finish_delete(res, cur, pol)
                return 200, resp
            obj, gone = self._delete_obj(res, cur, pol, grace)
            if not gone:
                return 200, copy.deepcopy(obj)
            if res.delete_returns_object:
                return 200, copy.deepcopy(cur)
            return 200, self._success(res, cur)

    @staticmethod
    def _success(res, obj):
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": _details(res, obj["metadata"]["name"], uid=obj["metadata"]["uid"])}

    def delete_collection(self, res, ns, params, body):
        lst = self.list(res, ns, {k: v for k, v in params.items()
                                  if k in ("labelSelector", "fieldSelector")})
        out = []
        for o in lst["items"]:
            try:
                _, r = self.delete(res, o["metadata"].get("namespace"), o["metadata"]["name"],
                                   params, body)
                out.append(o)
            except ApiError:
                pass
        for o in out:
            o.pop("apiVersion", None)
            o.pop("kind", None)
        with self.lock:
            rv = self.store.rv
        return {"kind": res.list_kind(), "apiVersion": res.gv,
                "metadata": {"resourceVersion": str(rv)}, "items": out}

    # ---- used by the simulated controllers (no HTTP, no admission)

    def ctl_create(self, res, obj):
        try:
            return self.create(res, obj["metadata"].get("namespace"), obj,
                               {"fieldManager": obj.pop("_manager", "fakekube")}, internal=True)
        except ApiError:
            return None

    def ctl_mutate(self, res, ns, name, fn, sub=None, manager="fakekube"):
        """Read-modify-write under the lock: fn(obj) changes obj in place."""
        with self.lock:
            cur = self.store.get(res, ns, name)
            if cur is None:
                return None
            new = copy.deepcopy(cur)
            fn(new)
            try:
                return self.update(res, ns, name, new, {"fieldManager": manager}, sub=sub,
                                   patch_op="internal", internal=True)
            except ApiError as e:
                self.fake.debug("controller update of %s %s/%s: %s" % (res.name, ns, name,
                                                                      e.message))
                return None

    def ctl_delete(self, res, ns, name, policy="Background", grace=None, uid=None):
        """A controller's DELETE (grace: gracePeriodSeconds; uid: the
        precondition the kubelet sends)."""
        with self.lock:
            cur = self.store.get(res, ns, name)
            if cur is not None and (uid is None or cur["metadata"]["uid"] == uid):
                self._delete_obj(res, cur, policy, grace)


# ---------------------------------------------------------------- controllers

R_NS = BY_GVR[("", "v1", "namespaces")]
R_PVC = BY_GVR[("", "v1", "persistentvolumeclaims")]
R_POD = BY_GVR[("", "v1", "pods")]
R_EVENT = BY_GVR[("", "v1", "events")]
R_SECRET = BY_GVR[("", "v1", "secrets")]
R_CM = BY_GVR[("", "v1", "configmaps")]
R_SA = BY_GVR[("", "v1", "serviceaccounts")]
R_JOB = BY_GVR[("batch", "v1", "jobs")]
R_VM = BY_GVR[("kubevirt.io", "v1", "virtualmachines")]
R_VMI = BY_GVR[("kubevirt.io", "v1", "virtualmachineinstances")]
R_DV = BY_GVR[("cdi.kubevirt.io", "v1beta1", "datavolumes")]
R_SC = BY_GVR[("storage.k8s.io", "v1", "storageclasses")]

PATH_ANNOTATION = "fake.ferry.dev/path"
NODE = "fake-node"


def owner_ref(res, obj, controller=True):
    return {"apiVersion": res.gv, "kind": res.kind, "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": controller, "blockOwnerDeletion": True}


def controller_of(obj, kind):
    for r in dig(obj, "metadata", "ownerReferences", default=[]) or []:
        if r.get("kind") == kind and r.get("controller"):
            return r
    return None


def set_condition(conds, ctype, status, reason=None, message=None):
    """conditions list keyed by type; lastTransitionTime moves on change."""
    ts = now_ts()
    for c in conds:
        if c.get("type") == ctype:
            if c.get("status") != status:
                c["lastTransitionTime"] = ts
            c["status"] = status
            c["lastProbeTime"] = c.get("lastProbeTime")
            if reason is not None:
                c["reason"] = reason
            if message is not None:
                c["message"] = message
            return conds
    c = {"type": ctype, "status": status, "lastProbeTime": None, "lastTransitionTime": ts}
    if reason is not None:
        c["reason"] = reason
    if message is not None:
        c["message"] = message
    conds.append(c)
    return conds


class Controllers:
    """Reacts to watch events in one thread, in order."""

    def __init__(self, fake):
        self.fake, self.api = fake, fake.api
        self.queue = collections.deque()
        self.cv = threading.Condition()
        self.runners = {}  # job uid -> JobRunner
        self.warned = set()
        threading.Thread(target=self.loop, name="controllers", daemon=True).start()

    def enqueue(self, evtype, res, obj, old):
        with self.cv:
            self.queue.append((evtype, res, copy.deepcopy(obj), old and copy.deepcopy(old)))
            self.cv.notify()

    def kick(self, res, ns, name):
        with self.api.lock:
            o = self.fake.store.get(res, ns, name)
            if o is not None:
                self.enqueue("SYNC", res, o, None)

    def loop(self):
        while True:
            with self.cv:
                while not self.queue:
                    self.cv.wait()
                ev = self.queue.popleft()
            try:
                self.handle(*ev)
            except Exception as e:  # a controller bug must not kill the server
                import traceback
                self.fake.debug("controller error: %r\n%s" % (e, traceback.format_exc()))

    def handle(self, evtype, res, obj, old):
        ns, name = obj["metadata"].get("namespace"), obj["metadata"]["name"]
        if res is R_NS and evtype == "ADDED":
            self.api.ctl_create(R_SA, {"apiVersion": "v1", "kind": "ServiceAccount",
                                       "metadata": {"name": "default", "namespace": name}})
            self.api.ctl_create(R_CM, {"apiVersion": "v1", "kind": "ConfigMap",
                                       "metadata": {"name": "kube-root-ca.crt", "namespace": name},
                                       "data": {"ca.crt": self.fake.ca_pem}})
        elif res is R_NS and evtype == "DELETED":
            shutil.rmtree(os.path.join(self.fake.run_root, name, "_pvc"), ignore_errors=True)
        elif res is R_PVC:
            if evtype == "DELETED":
                shutil.rmtree(self.fake.claim_dir(ns, name), ignore_errors=True)
                return
            if obj["metadata"].get("deletionTimestamp"):
                self.pvc_protection(obj)
                return
            self.sync_pvc(obj)
            ref = controller_of(obj, "DataVolume")
            if ref:
                self.kick(R_DV, ns, ref["name"])
        elif res is R_SC and evtype in ("ADDED", "MODIFIED"):
            with self.api.lock:
                pend = [o for o in self.fake.store.items(R_PVC)
                        if dig(o, "status", "phase") == "Pending"]
            for o in pend:
                self.enqueue("SYNC", R_PVC, o, None)
        elif res is R_DV and evtype != "DELETED":
            self.sync_dv(obj)
        elif res is R_JOB:
            uid = obj["metadata"]["uid"]
            if evtype == "DELETED":
                r = self.runners.pop(uid, None)
                if r:
                    r.job_deleted = True
                return
            if uid not in self.runners and not dig(obj, "spec", "suspend") and \
                    not dig(obj, "status", "completionTime") and \
                    not any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
                            for c in dig(obj, "status", "conditions", default=[]) or []):
                r = JobRunner(self.fake, ns, name, uid)
                self.runners[uid] = r
                r.start()
        elif res is R_POD:
            if evtype == "DELETED":
                # deleted at once (gracePeriodSeconds 0, or with its
                # namespace): the kubelet still stops the container gracefully
                self.fake.kill_pod(ns, name, obj["metadata"]["uid"],
                                   dig(obj, "spec", "terminationGracePeriodSeconds", default=0))
            elif obj["metadata"].get("deletionTimestamp"):
                self.pod_terminating(obj)
            if evtype == "DELETED" or obj["metadata"].get("deletionTimestamp"):
                self.job_terminating(obj)
            if evtype == "DELETED" or dig(obj, "status", "phase") in ("Succeeded", "Failed"):
                with self.api.lock:
                    dying = [o for o in self.fake.store.items(R_PVC, ns)
                             if o["metadata"].get("deletionTimestamp")]
                for o in dying:
                    self.enqueue("SYNC", R_PVC, o, None)
        elif res is R_VM and evtype != "DELETED":
            self.sync_vm(obj)

    # ---- pods being deleted

    def pod_terminating(self, pod):
        """The kubelet's side of a graceful deletion: a running container
        is stopped (a shorter grace period brings its SIGKILL nearer); a
        pod with nothing running and no PodRunner following it is marked
        Failed and removed at once."""
        meta = pod["metadata"]
        ns, name, uid = meta["namespace"], meta["name"], meta["uid"]
        proc = self.fake.proc_of(ns, name, uid)
        if proc is not None:
            self.fake.stop_proc(proc, meta.get("deletionGracePeriodSeconds") or 0)
            return
        if self.fake.followed(uid):
            return  # its PodRunner stops it

        def failed(o):
            if o["metadata"]["uid"] == uid and \
                    dig(o, "status", "phase") not in ("Succeeded", "Failed"):
                o.setdefault("status", {})["phase"] = "Failed"
        self.api.ctl_mutate(R_POD, ns, name, failed, sub="status", manager="kubelet")
        self.api.ctl_delete(R_POD, ns, name, grace=0, uid=uid)

    def job_terminating(self, pod):
        """Job status.terminating: its pods being deleted that have not
        ended."""
        ref = controller_of(pod, "Job")
        if not ref:
            return
        ns = pod["metadata"]["namespace"]
        n = job_terminating_pods(self.fake, ns, ref["uid"])

        def fn(o):
            if o["metadata"]["uid"] == ref["uid"]:
                o.setdefault("status", {})["terminating"] = n
        self.api.ctl_mutate(R_JOB, ns, ref["name"], fn, sub="status",
                            manager="kube-controller-manager")

    # ---- storage

    def warn_once(self, key, res, obj, reason, message, etype="Warning", component=None):
        if key in self.warned:
            return
        self.warned.add(key)
        self.fake.emit_event(res, obj, reason, message, etype, component)

    def pvc_protection(self, pvc):
        """The pvc-protection controller: a deleted claim goes once no
        scheduled pod that has not ended uses it (an unscheduled pod never
        starts with a claim being deleted, so it does not hold it)."""
        ns, name = pvc["metadata"]["namespace"], pvc["metadata"]["name"]
        if "kubernetes.io/pvc-protection" not in (pvc["metadata"].get("finalizers") or []):
            return
        with self.api.lock:
            for p in self.fake.store.items(R_POD, ns):
                if dig(p, "status", "phase") in ("Succeeded", "Failed") or \
                        not dig(p, "spec", "nodeName"):
                    continue
                if any(dig(v, "persistentVolumeClaim", "claimName") == name
                       for v in dig(p, "spec", "volumes", default=[]) or []):
                    return

        def drop(o):
            o["metadata"]["finalizers"] = [f for f in o["metadata"].get("finalizers") or []
                                           if f != "kubernetes.io/pvc-protection"]
        self.api.ctl_mutate(R_PVC, ns, name, drop, manager="kube-controller-manager")

    def expand_pvc(self, pvc):
        """Volume expansion: the claim's file grows to a larger request."""
        ns, name = pvc["metadata"]["namespace"], pvc["metadata"]["name"]
        req = dig(pvc, "spec", "resources", "requests", "storage", default="0")
        cap = dig(pvc, "status", "capacity", "storage", default="0")
        try:
            if parse_quantity(req) <= parse_quantity(cap):
                return
            size = parse_quantity(req)
        except ValueError:
            return
        path = self.fake.ensure_claim_file(ns, name, size)
        if os.path.getsize(path) < size:
            with open(path, "r+b") as f:
                f.truncate(size)
        self.api.ctl_mutate(R_PVC, ns, name, lambda o: o["status"].__setitem__(
            "capacity", {"storage": str(req)}), sub="status", manager="kubelet")
        self.fake.emit_event(R_PVC, pvc, "FileSystemResizeSuccessful",
                             "MountVolume.NodeExpandVolume succeeded for volume \"pvc-%s\""
                             % pvc["metadata"]["uid"], "Normal", "kubelet")

    def sync_pvc(self, pvc):
        ns, name = pvc["metadata"]["namespace"], pvc["metadata"]["name"]
        if pvc["metadata"].get("deletionTimestamp"):
            return
        if dig(pvc, "status", "phase") == "Bound":
            self.expand_pvc(pvc)
            return
        scname = dig(pvc, "spec", "storageClassName")
        sc = None
        if scname is None:
            # No class and no default one when it was created: it waits for
            # a default class and is given it (RetroactiveDefaultStorageClass);
            # there are no PersistentVolumes to bind it to meanwhile.
            with self.api.lock:
                dflt = self.fake.default_storage_class()
            if dflt is None:
                self.warn_once(("noclass", pvc["metadata"]["uid"]), R_PVC, pvc, "FailedBinding",
                               "no persistent volumes available for this claim and no storage "
                               "class is set", "Normal", "persistentvolume-controller")
                return
            self.api.ctl_mutate(R_PVC, ns, name,
                                lambda o: o["spec"].__setitem__("storageClassName", dflt),
                                manager="kube-controller-manager")
            return
        if scname:
            with self.api.lock:
                sc = self.fake.store.get(R_SC, None, scname)
            if sc is None:
                self.warn_once(("nosc", pvc["metadata"]["uid"]), R_PVC, pvc, "ProvisioningFailed",
                               'storageclass.storage.k8s.io "%s" not found' % scname,
                               component="persistentvolume-controller")
                return
        ann = dig(pvc, "metadata", "annotations", default={}) or {}
        if sc and sc.get("volumeBindingMode") == "WaitForFirstConsumer" and \
                "volume.kubernetes.io/selected-node" not in ann and \
                ann.get("cdi.kubevirt.io/storage.bind.immediate.requested") != "true":
            self.warn_once(("wffc", pvc["metadata"]["uid"]), R_PVC, pvc, "WaitForFirstConsumer",
                           "waiting for first consumer to be created before binding", "Normal",
                           "persistentvolume-controller")
            return
        req = dig(pvc, "spec", "resources", "requests", "storage", default="0")
        try:
            size = parse_quantity(req)
        except ValueError:
            size = 0
        path = self.fake.ensure_claim_file(ns, name, size)
        provisioner = (sc or {}).get("provisioner", "fake.ferry.dev/local")

        def bind(o):
            o["spec"]["volumeName"] = "pvc-" + o["metadata"]["uid"]
            a = o["metadata"].setdefault("annotations", {})
            a["pv.kubernetes.io/bind-completed"] = "yes"
            a["pv.kubernetes.io/bound-by-controller"] = "yes"
            a["volume.beta.kubernetes.io/storage-provisioner"] = provisioner
            a["volume.kubernetes.io/storage-provisioner"] = provisioner
            a[PATH_ANNOTATION] = path
            o["metadata"].setdefault("finalizers", [])
            if "kubernetes.io/pvc-protection" not in o["metadata"]["finalizers"]:
                o["metadata"]["finalizers"].append("kubernetes.io/pvc-protection")
            o["status"] = {"phase": "Bound", "accessModes": o["spec"].get("accessModes", []),
                           "capacity": {"storage": str(req)}}

        if self.api.ctl_mutate(R_PVC, ns, name, bind, manager="kube-controller-manager"):
            self.fake.emit_event(R_PVC, pvc, "ProvisioningSucceeded",
                                 "Successfully provisioned volume pvc-%s" % pvc["metadata"]["uid"],
                                 "Normal", provisioner)

    def sync_dv(self, dv):
        ns, name = dv["metadata"]["namespace"], dv["metadata"]["name"]
        if dv["metadata"].get("deletionTimestamp"):
            return
        spec = dv.get("spec") or {}
        with self.api.lock:
            pvc = self.fake.store.get(R_PVC, ns, name)
            pvc = copy.deepcopy(pvc)
        if pvc is None:
            ps = copy.deepcopy(spec.get("pvc") or spec.get("storage") or {})
            ps.setdefault("accessModes", ["ReadWriteOnce"])
            ps.setdefault("volumeMode", "Filesystem")
            if "pvc" not in spec and ps.get("storageClassName") is None:
                # CDI's pick: its default virtualization class, else the default
                with self.api.lock:
                    cls = self.fake.default_storage_class(virt=True)
                if cls:
                    ps["storageClassName"] = cls
            labels = dict(dig(dv, "metadata", "labels", default={}) or {})
            labels.setdefault("app", "containerized-data-importer")
            anns = {"cdi.kubevirt.io/storage.contentType": spec.get("contentType", "kubevirt")}
            for k, v in (dig(dv, "metadata", "annotations", default={}) or {}).items():
                if k.startswith("cdi.kubevirt.io/"):
                    anns[k] = v
            body = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": name, "namespace": ns, "labels": labels,
                                 "annotations": anns,
                                 "ownerReferences": [owner_ref(R_DV, dv)]},
                    "spec": ps, "_manager": "cdi-controller"}
            pvc = self.api.ctl_create(R_PVC, body)
            if pvc is None:
                return
            self.fake.emit_event(R_DV, dv, "Pending", "PVC %s Pending" % name, "Normal",
                                 "datavolume-pvc-import-controller")
        src = spec.get("source") or {}
        bound = dig(pvc, "status", "phase") == "Bound"
        blank = "blank" in src
        wffc = False
        if not bound:
            sc = None
            with self.api.lock:
                if dig(pvc, "spec", "storageClassName"):
                    sc = self.fake.store.get(R_SC, None, pvc["spec"]["storageClassName"])
            wffc = bool(sc and sc.get("volumeBindingMode") == "WaitForFirstConsumer")
        if bound and blank:
            phase, progress = "Succeeded", "100.0%"
        elif bound:
            phase, progress = "ImportScheduled", "N/A"
        elif wffc:
            phase, progress = "WaitForFirstConsumer", "N/A"
        else:
            phase, progress = "Pending", "N/A"
        old_st = dv.get("status") or {}
        if old_st.get("phase") == phase and old_st.get("claimName") == name:
            return

        def upd(o):
            st = o.setdefault("status", {})
            st["phase"], st["progress"], st["claimName"] = phase, progress, name
            conds = st.setdefault("conditions", [])
            set_condition(conds, "Bound", "True" if bound else "False",
                          "Bound" if bound else "Pending",
                          "PVC %s Bound" % name if bound else "PVC %s Pending" % name)
            set_condition(conds, "Ready", "True" if phase == "Succeeded" else "False",
                          "" if phase == "Succeeded" else "TransferRunning"
                          if phase == "ImportScheduled" else "")
            set_condition(conds, "Running", "False",
                          "Completed" if phase == "Succeeded" else "")
            for c in conds:
                c.pop("lastProbeTime", None)
                c["lastHeartbeatTime"] = now_ts()

        self.api.ctl_mutate(R_DV, ns, name, upd, sub="status", manager="cdi-controller")
        if phase == "Succeeded":
            self.fake.emit_event(R_DV, dv, "ImportSucceeded" if not blank else "Bound",
                                 "PVC %s Bound" % name, "Normal",
                                 "datavolume-pvc-import-controller")

    # ---- KubeVirt

    def sync_vm(self, vm):
        ns, name = vm["metadata"]["namespace"], vm["metadata"]["name"]
        if vm["metadata"].get("deletionTimestamp"):
            return
        spec = vm.get("spec") or {}
        strategy = spec.get("runStrategy")
        if strategy is None:
            strategy = "Always" if spec.get("running") else "Halted"
        run = strategy in ("Always", "RerunOnFailure", "Once")
        for t in spec.get("dataVolumeTemplates") or []:
            tname = dig(t, "metadata", "name")
            if not tname:
                continue
            with self.api.lock:
                have = self.fake.store.get(R_DV, ns, tname) is not None
            if not have:
                body = {"apiVersion": R_DV.gv, "kind": "DataVolume",
                        "metadata": dict(copy.deepcopy(t.get("metadata") or {}), namespace=ns,
                                         ownerReferences=[owner_ref(R_VM, vm)]),
                        "spec": copy.deepcopy(t.get("spec") or {}), "_manager": "virt-controller"}
                self.api.ctl_create(R_DV, body)
        with self.api.lock:
            vmi = self.fake.store.get(R_VMI, ns, name)
        if run and vmi is None:
            body = {"apiVersion": R_VMI.gv, "kind": "VirtualMachineInstance",
                    "metadata": {"name": name, "namespace": ns,
                                 "labels": dict(dig(spec, "template", "metadata", "labels",
                                                    default={}) or {}),
                                 "ownerReferences": [owner_ref(R_VM, vm)]},
                    "spec": copy.deepcopy(dig(spec, "template", "spec", default={})),
                    "_manager": "virt-controller"}
            vmi = self.api.ctl_create(R_VMI, body)
            if vmi:
                self.api.ctl_mutate(R_VMI, ns, name, lambda o: o.__setitem__(
                    "status", {"phase": "Running", "nodeName": NODE,
                               "conditions": [{"type": "Ready", "status": "True",
                                               "lastProbeTime": None,
                                               "lastTransitionTime": now_ts()}]}),
                    sub="status", manager="virt-handler")
                self.fake.emit_event(R_VM, vm, "SuccessfulCreate",
                                     "Started the virtual machine by creating the new virtual "
                                     "machine instance %s" % name, "Normal", "virtualmachine-controller")
        elif not run and vmi is not None:
            self.api.ctl_delete(R_VMI, ns, name)
            vmi = None
        printable = "Running" if run and vmi is not None else "Stopped"
        st = vm.get("status") or {}
        if st.get("printableStatus") == printable and \
                st.get("observedGeneration") == vm["metadata"].get("generation"):
            return

        def upd(o):
            s = o.setdefault("status", {})
            s["printableStatus"] = printable
            s["ready"] = printable == "Running"
            s["created"] = vmi is not None
            s["runStrategy"] = strategy
            s["desiredGeneration"] = o["metadata"].get("generation")
            s["observedGeneration"] = o["metadata"].get("generation")
            set_condition(s.setdefault("conditions", []), "Ready",
                          "True" if printable == "Running" else "False",
                          None if printable == "Running" else "VMINotExists",
                          None if printable == "Running" else "VMI does not exist")
            if not s["ready"]:
                s.pop("ready")
            if not s["created"]:
                s.pop("created")

        self.api.ctl_mutate(R_VM, ns, name, upd, sub="status", manager="virt-controller")


# ---------------------------------------------------------------- Job runner

_PATHCH = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


def rewrite_paths(s, mapping):
    """Replaces each container path P of mapping (longest first) where it
    occurs in s as a whole path prefix: the character before P is not a
    name character nor '/' (or P starts s), and the character after P is
    '/' or not a name character (or P ends s). Name characters: A-Z a-z
    0-9 . _ -."""
    if not isinstance(s, str) or not mapping:
        return s
    keys = sorted(mapping, key=len, reverse=True)
    out, i = [], 0
    while i < len(s):
        hit = None
        if i == 0 or (s[i - 1] not in _PATHCH and s[i - 1] != "/"):
            for k in keys:
                if s.startswith(k, i):
                    j = i + len(k)
                    if j == len(s) or s[j] == "/" or s[j] not in _PATHCH or k.endswith("/"):
                        hit = k
                        break
        if hit:
            out.append(mapping[hit])
            i += len(hit)
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def expand_vars(s, env):
    """Kubernetes $(VAR) expansion in command, args and env values; $$ escapes."""
    if not isinstance(s, str):
        return s

    def rep(m):
        if m.group(0) == "$$":
            return "$"
        v = m.group(1)
        return env[v] if v in env else m.group(0)

    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", rep, s)


class PodGone(Exception):
    """The pod was deleted: its PodRunner stops following it."""


def job_terminating_pods(fake, ns, job_uid):
    """How many pods of Job job_uid are being deleted and have not ended."""
    with fake.store.lock:
        return sum(1 for p in fake.store.items(R_POD, ns)
                   if (controller_of(p, "Job") or {}).get("uid") == job_uid and
                   p["metadata"].get("deletionTimestamp") and
                   dig(p, "status", "phase") not in ("Succeeded", "Failed"))


class JobRunner(threading.Thread):
    """Runs one Job: creates its pods, one at a time, and follows them."""

    def __init__(self, fake, ns, name, uid):
        super().__init__(name="job-%s/%s" % (ns, name), daemon=True)
        self.fake, self.api, self.ns, self.name, self.uid = fake, fake.api, ns, name, uid
        self.job_deleted = False

    def job(self):
        with self.api.lock:
            j = self.fake.store.get(R_JOB, self.ns, self.name)
            if j is None or j["metadata"]["uid"] != self.uid:
                return None
            return copy.deepcopy(j)

    def live_job(self):
        """The Job, unless it is gone or being deleted (then the controller
        starts nothing more)."""
        j = self.job()
        if j is None or self.job_deleted or j["metadata"].get("deletionTimestamp"):
            return None
        return j

    def wait_terminated(self):
        """Waits until none of the Job's pods is terminating; False when
        the Job went meanwhile."""
        while job_terminating_pods(self.fake, self.ns, self.uid):
            if self.live_job() is None:
                return False
            time.sleep(0.05)
        return True

    def job_status(self, fn):
        def wrap(o):
            if o["metadata"]["uid"] == self.uid:
                fn(o.setdefault("status", {}))
        return self.api.ctl_mutate(R_JOB, self.ns, self.name, wrap, sub="status",
                                   manager="kube-controller-manager")

    def run(self):
        try:
            self._run()
        except Exception as e:
            import traceback
            self.fake.debug("job runner %s/%s: %r\n%s" % (self.ns, self.name, e,
                                                          traceback.format_exc()))

    def _finish(self, ok, reason, message, counts):
        minor = self.fake.minor
        if not ok and minor >= 31:
            # From 1.31 the controller marks the failure (FailureTarget)
            # first and adds the terminal condition once its pods are gone.
            def target(st):
                st.pop("active", None)
                st["ready"] = 0
                st.update(counts)
                set_condition(st.setdefault("conditions", []), "FailureTarget", "True", reason,
                              message)
            self.job_status(target)
            if not self.wait_terminated():
                return

        def fn(st):
            conds = st.setdefault("conditions", [])
            st.pop("active", None)
            st["ready"] = 0
            st.setdefault("terminating", 0)
            st.update(counts)
            if ok:
                if minor >= 31:
                    set_condition(conds, "SuccessCriteriaMet", "True", "CompletionsReached",
                                  "Reached expected number of succeeded pods")
                set_condition(conds, "Complete", "True",
                              "CompletionsReached" if minor >= 31 else None,
                              "Reached expected number of succeeded pods" if minor >= 31 else None)
                st["completionTime"] = now_ts()
            else:
                if minor >= 31:
                    set_condition(conds, "FailureTarget", "True", reason, message)
                set_condition(conds, "Failed", "True", reason, message)
        self.job_status(fn)
        j = self.job()
        if j is not None:
            if ok:
                self.fake.emit_event(R_JOB, j, "Completed", "Job completed", "Normal",
                                     "job-controller")
            else:
                self.fake.emit_event(R_JOB, j, reason, message, "Warning", "job-controller")
            ttl = dig(j, "spec", "ttlSecondsAfterFinished")
            if isinstance(ttl, int):
                def reap():
                    time.sleep(ttl)
                    if self.job() is not None:
                        self.api.ctl_delete(R_JOB, self.ns, self.name, "Background")
                threading.Thread(target=reap, daemon=True).start()

    def _run(self):
        job = self.job()
        if job is None:
            return
        spec = job["spec"]
        backoff = spec.get("backoffLimit", 6)
        deadline = spec.get("activeDeadlineSeconds")
        t0 = time.time()
        deadline_at = t0 + deadline if isinstance(deadline, (int, float)) else None
        failed = 0
        restart_on_failure = dig(spec, "template", "spec", "restartPolicy") == "OnFailure"
        while True:
            job = self.live_job()
            if job is None:
                return
            pod = self.make_pod(job)
            if pod is None:
                return
            self.fake.emit_event(R_JOB, job, "SuccessfulCreate",
                                 "Created pod: %s" % pod["metadata"]["name"], "Normal",
                                 "job-controller")

            def active(st):
                st.setdefault("startTime", now_ts())
                st["active"] = 1
                st["ready"] = 0
                st.setdefault("terminating", 0)
                st.setdefault("uncountedTerminatedPods", {})
            self.job_status(active)
            pr = PodRunner(self.fake, pod, self, deadline_at,
                           restarts_left=(backoff - failed) if restart_on_failure else 0)
            outcome, extra = pr.run()
            if self.live_job() is None:
                return
            if outcome == "deleted" and spec.get("podReplacementPolicy") == "Failed":
                # no replacement before the deleted pod has ended
                outcome = self.wait_pod_end(pod)
                if outcome is None:
                    return
            # (podReplacementPolicy TerminatingOrFailed: a pod being deleted
            # counts as failed now and is replaced while it terminates)
            if outcome == "succeeded":
                self._finish(True, None, None, {"succeeded": 1,
                                                **({"failed": failed} if failed else {})})
                return
            if restart_on_failure:
                failed += extra
            else:
                failed += 1
            if outcome == "deadline" or (deadline_at and time.time() >= deadline_at):
                self.api.ctl_delete(R_POD, self.ns, pod["metadata"]["name"])
                self._finish(False, "DeadlineExceeded",
                             "Job was active longer than specified deadline", {"failed": failed})
                return
            if failed > backoff or restart_on_failure:
                if restart_on_failure:
                    self.api.ctl_delete(R_POD, self.ns, pod["metadata"]["name"])
                self._finish(False, "BackoffLimitExceeded",
                             "Job has reached the specified backoff limit", {"failed": failed})
                return

            def counted(st):
                st["failed"] = failed
                st.pop("active", None)
                st["ready"] = 0
            self.job_status(counted)
            delay = min(self.fake.args.job_backoff * (2 ** (failed - 1)), 30.0)
            end = time.time() + delay
            while time.time() < end:
                if self.live_job() is None:
                    return
                time.sleep(0.05)

    def wait_pod_end(self, pod):
        """Waits for a deleted pod to end: "succeeded" or "deleted" (its
        last phase), None when the Job went meanwhile."""
        name, uid = pod["metadata"]["name"], pod["metadata"]["uid"]
        phase = None
        while True:
            with self.api.lock:
                p = self.fake.store.get(R_POD, self.ns, name)
                if p is None or p["metadata"]["uid"] != uid:
                    break
                phase = dig(p, "status", "phase")
            if phase in ("Succeeded", "Failed"):
                break
            if self.live_job() is None:
                return None
            time.sleep(0.05)
        return "succeeded" if phase == "Succeeded" else "deleted"

    def make_pod(self, job):
        tmpl = dig(job, "spec", "template", default={}) or {}
        meta = copy.deepcopy(tmpl.get("metadata") or {})
        labels = meta.setdefault("labels", {})
        labels.update({"job-name": self.name, "controller-uid": self.uid,
                       "batch.kubernetes.io/job-name": self.name,
                       "batch.kubernetes.io/controller-uid": self.uid})
        meta.pop("name", None)
        meta["generateName"] = self.name + "-"
        meta["namespace"] = self.ns
        meta["ownerReferences"] = [owner_ref(R_JOB, job)]
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                "spec": copy.deepcopy(tmpl.get("spec") or {}), "_manager": "kube-controller-manager"}
        return self.api.ctl_create(R_POD, body)


class PodRunner:
    """Follows one pod of a Job: waits for its volumes, starts its first
    container's command as a local process, and writes its status."""

    def __init__(self, fake, pod, job_runner, deadline_at, restarts_left):
        self.fake, self.api = fake, fake.api
        self.jr = job_runner
        self.ns, self.name, self.uid = pod["metadata"]["namespace"], pod["metadata"]["name"], \
            pod["metadata"]["uid"]
        self.pod = pod
        self.deadline_at = deadline_at
        self.restarts_left = restarts_left
        self.dir = os.path.join(fake.run_root, self.ns, self.name)
        self.handed_off = False
        fake.follow(self.uid)

    def life(self):
        """"alive", "terminating" (being deleted) or "gone"."""
        with self.api.lock:
            p = self.fake.store.get(R_POD, self.ns, self.name)
            if p is None or p["metadata"]["uid"] != self.uid:
                return "gone"
            return "terminating" if p["metadata"].get("deletionTimestamp") else "alive"

    def alive(self):
        return self.life() == "alive"

    def remove(self, phase):
        """The kubelet's last steps for a deleted pod whose containers have
        stopped: a terminal phase, then the DELETE (gracePeriodSeconds 0,
        the pod's uid as precondition) that removes it."""
        if self.life() == "terminating":
            if phase:
                self.finish_pod(phase)
            self.api.ctl_delete(R_POD, self.ns, self.name, grace=0, uid=self.uid)

    def status(self, fn):
        def wrap(o):
            if o["metadata"]["uid"] == self.uid:
                fn(o.setdefault("status", {}))
        return self.api.ctl_mutate(R_POD, self.ns, self.name, wrap, sub="status",
                                   manager="kubelet")

    def event(self, reason, message, etype="Normal", component="kubelet", field=None):
        self.fake.emit_event(R_POD, self.pod, reason, message, etype, component, field)

    def wait_until(self, check, why_key=None):
        """Polls check() until true; raises PodGone when the pod is deleted
        (nothing runs then: it is removed at once)."""
        while True:
            if not self.alive():
                self.remove("Failed")
                raise PodGone()
            if self.deadline_at and time.time() >= self.deadline_at:
                return False
            if check():
                return True
            time.sleep(0.05)

    def run(self):
        try:
            return self._run()
        except PodGone:
            return "deleted", 1
        finally:
            if not self.handed_off:
                self.fake.unfollow(self.uid)
                # deleted as it ended: nothing more to stop
                self.remove(None)

    def stop(self, proc, cname, fieldpath, ended):
        """The pod is being deleted (or was deleted at once) while its
        container runs: SIGTERM now, SIGKILL when the grace period is over
        (the pod's deletionGracePeriodSeconds; deleted at once: the
        spec's terminationGracePeriodSeconds; at least 2 s, as the
        kubelet), then, in a thread of its own so that the Job controller
        carries on meanwhile, ended(exit code) and the pod's removal."""
        with self.api.lock:
            p = self.fake.store.get(R_POD, self.ns, self.name)
            if p is not None and p["metadata"]["uid"] == self.uid:
                grace = p["metadata"].get("deletionGracePeriodSeconds") or 0
            else:
                grace = dig(self.pod, "spec", "terminationGracePeriodSeconds", default=0) or 0
        self.event("Killing", "Stopping container %s" % cname, field=fieldpath)
        self.fake.stop_proc(proc, grace)
        self.handed_off = True

        def finish():
            try:
                proc.wait()
                self.fake.unregister_proc(self.ns, self.name, proc)
                code = proc.returncode
                if code < 0:
                    code = 128 - code
                ended(code)
                self.remove("Succeeded" if code == 0 else "Failed")
            except Exception as e:  # a bug here must not leave the pod behind silently
                self.fake.debug("stopping pod %s/%s: %r" % (self.ns, self.name, e))
            finally:
                self.fake.unfollow(self.uid)
        threading.Thread(target=finish, name="stop-%s/%s" % (self.ns, self.name),
                         daemon=True).start()

    def volumes_ready(self):
        """None when every claim is bound; else a (reason, message)."""
        for v in dig(self.pod, "spec", "volumes", default=[]) or []:
            claim = dig(v, "persistentVolumeClaim", "claimName")
            if not claim:
                continue
            with self.api.lock:
                pvc = copy.deepcopy(self.fake.store.get(R_PVC, self.ns, claim))
            if pvc is None:
                return ("FailedScheduling",
                        '0/1 nodes are available: persistentvolumeclaim "%s" not found. '
                        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for "
                        "scheduling." % claim)
            if pvc["metadata"].get("deletionTimestamp"):
                return ("FailedScheduling", '0/1 nodes are available: persistentvolumeclaim '
                        '"%s" is being deleted.' % claim)
            if dig(pvc, "status", "phase") != "Bound":
                ann = dig(pvc, "metadata", "annotations", default={}) or {}
                if "volume.kubernetes.io/selected-node" not in ann:
                    # The scheduler picks the node for a WaitForFirstConsumer claim.
                    def sel(o):
                        o["metadata"].setdefault("annotations", {})[
                            "volume.kubernetes.io/selected-node"] = NODE
                    self.api.ctl_mutate(R_PVC, self.ns, claim, sel, manager="kube-scheduler")
                return ("FailedScheduling", "0/1 nodes are available: pod has unbound immediate "
                        "PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 "
                        "Preemption is not helpful for scheduling.")
        return None

    def _run(self):
        spec = self.pod.get("spec") or {}
        warned = set()

        def vol_check():
            r = self.volumes_ready()
            if r and r not in warned and not r[1].startswith("0/1 nodes are available: pod has "
                                                             "unbound"):
                warned.add(r)
                self.event(r[0], r[1], "Warning", "default-scheduler")
            return r is None

        if not self.wait_until(vol_check):
            return "deadline", 1
        self.api.ctl_mutate(R_POD, self.ns, self.name,
                            lambda o: o["spec"].__setitem__("nodeName", NODE),
                            manager="kube-scheduler")
        self.status(lambda st: st.update({
            "phase": "Pending", "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "conditions": set_condition(st.get("conditions", []), "PodScheduled", "True")}))
        self.event("Scheduled", "Successfully assigned %s/%s to %s" % (self.ns, self.name, NODE),
                   "Normal", "default-scheduler")
        os.makedirs(self.dir, exist_ok=True)
        inits = [c for c in spec.get("initContainers") or [] if isinstance(c, dict)]
        main = (spec.get("containers") or [{}])[0]
        def creating(st):
            st["startTime"] = now_ts()
            if inits:
                st["initContainerStatuses"] = [
                    self.cstatus(c, {"waiting": {"reason": "PodInitializing"}}) for c in inits]
            st["containerStatuses"] = [
                self.cstatus(c, {"waiting": {"reason": "ContainerCreating"}})
                for c in spec.get("containers") or []]
        self.status(creating)
        for i, c in enumerate(inits):
            code, _ = self.run_container(c, "initContainerStatuses", i, init=True)
            if code is None:
                return "deadline", 1
            if code != 0:
                self.status(lambda st: st.update({"phase": "Failed"}))
                return "failed", 1
        restarts = 0
        while True:
            code, msg = self.run_container(main, "containerStatuses", 0, restarts=restarts)
            if code is None:
                return "deadline", restarts + 1
            if code == 0:
                self.finish_pod("Succeeded")
                return "succeeded", restarts
            if self.restarts_left > restarts:
                restarts += 1
                time.sleep(min(self.fake.args.job_backoff, 5.0))
                continue
            self.finish_pod("Failed")
            return "failed", restarts + 1

    def finish_pod(self, phase):
        def fn(st):
            st["phase"] = phase
            conds = st.setdefault("conditions", [])
            for t in ("Ready", "ContainersReady"):
                set_condition(conds, t, "False", "PodCompleted")
            set_condition(conds, "Initialized", "True", "PodCompleted")
        self.status(fn)

    def cstatus(self, c, state, restarts=0):
        return {"name": c.get("name"), "state": state, "lastState": {}, "ready": False,
                "restartCount": restarts, "image": c.get("image"),
                "imageID": "", "started": False}

    # ---- local environment

    def mapping(self, c):
        """(container path -> local path) for container c, or raise
        ValueError(reason, message) when a volume cannot be used."""
        m = {}
        vols = {v.get("name"): v for v in dig(self.pod, "spec", "volumes", default=[]) or []}
        cname = c.get("name", "c")
        for d in c.get("volumeDevices") or []:
            v = vols.get(d.get("name")) or {}
            claim = dig(v, "persistentVolumeClaim", "claimName")
            if not claim:
                raise ValueError("FailedMapVolume", "volumeDevices %s: only "
                                 "persistentVolumeClaim volumes can be block devices"
                                 % d.get("name"))
            pvc = self.api.get(R_PVC, self.ns, claim)
            if dig(pvc, "spec", "volumeMode") != "Block":
                raise ValueError("FailedMapVolume", 'MapVolume.SetUpDevice failed for volume '
                                 '"pvc-%s" : volume %s has volumeMode Filesystem, but is '
                                 "specified in volumeDevices" % (pvc["metadata"]["uid"], claim))
            m[d["devicePath"]] = self.fake.ensure_claim_file(
                self.ns, claim, parse_quantity(dig(pvc, "spec", "resources", "requests",
                                                   "storage", default=0)))
        for vm in c.get("volumeMounts") or []:
            v = vols.get(vm.get("name")) or {}
            local = None
            claim = dig(v, "persistentVolumeClaim", "claimName")
            if claim:
                pvc = self.api.get(R_PVC, self.ns, claim)
                if dig(pvc, "spec", "volumeMode") == "Block":
                    raise ValueError("FailedMount", 'Unable to attach or mount volumes: '
                                     'volume %s has volumeMode Block, but is specified in '
                                     "volumeMounts" % claim)
                self.fake.ensure_claim_file(self.ns, claim, parse_quantity(
                    dig(pvc, "spec", "resources", "requests", "storage", default=0)))
                local = self.fake.claim_dir(self.ns, claim)
            elif "hostPath" in v:
                local = dig(v, "hostPath", "path")
            else:
                local = os.path.join(self.dir, "volumes", vm.get("name"))
                self.fill_volume(v, local)
            if vm.get("subPath"):
                local = os.path.join(local, vm["subPath"])
                os.makedirs(local, exist_ok=True)
            m[vm["mountPath"]] = local
        tmp = c.get("terminationMessagePath") or "/dev/termination-log"
        tfile = os.path.join(self.dir, cname + ".termination-log")
        m[tmp] = tfile
        if dig(self.pod, "spec", "automountServiceAccountToken") is not False:
            sa = os.path.join(self.dir, "serviceaccount")
            os.makedirs(sa, exist_ok=True)
            for fn, data in (("token", self.fake.args.token or ""), ("ca.crt", self.fake.ca_pem),
                             ("namespace", self.ns)):
                with open(os.path.join(sa, fn), "w") as f:
                    f.write(data)
            m.setdefault(SA_PATH, sa)
        return m, tfile

    def fill_volume(self, v, local):
        os.makedirs(local, exist_ok=True)
        for kind, res in (("secret", R_SECRET), ("configMap", R_CM)):
            if kind not in v:
                continue
            src = v[kind] or {}
            nm = src.get("secretName" if kind == "secret" else "name")
            try:
                obj = self.api.get(res, self.ns, nm)
            except ApiError:
                if src.get("optional"):
                    return
                raise ValueError("FailedMount", 'MountVolume.SetUp failed for volume "%s" : '
                                 '%s "%s" not found' % (v.get("name"), res.singular, nm))
            data = {}
            for k, val in (obj.get("data") or {}).items():
                data[k] = base64.b64decode(val) if kind == "secret" else val.encode()
            for k, val in (obj.get("binaryData") or {}).items():
                data[k] = base64.b64decode(val)
            items = src.get("items")
            pairs = [(it["key"], it.get("path", it["key"])) for it in items] if items else \
                [(k, k) for k in data]
            for k, p in pairs:
                if k in data:
                    fp = os.path.join(local, p)
                    os.makedirs(os.path.dirname(fp), exist_ok=True)
                    with open(fp, "wb") as f:
                        f.write(data[k])

    def env(self, c):
        """The container's environment (a dict) or raise ValueError."""
        env = collections.OrderedDict()
        for ef in c.get("envFrom") or []:
            pre = ef.get("prefix", "")
            for kind, res in (("secretRef", R_SECRET), ("configMapRef", R_CM)):
                if kind in ef:
                    try:
                        obj = self.api.get(res, self.ns, ef[kind].get("name"))
                    except ApiError:
                        if ef[kind].get("optional"):
                            continue
                        raise ValueError("CreateContainerConfigError", '%s "%s" not found'
                                         % (res.singular, ef[kind].get("name")))
                    for k, v in (obj.get("data") or {}).items():
                        env[pre + k] = base64.b64decode(v).decode("utf-8", "replace") \
                            if kind == "secretRef" else v
        for e in c.get("env") or []:
            n = e.get("name")
            if "value" in e or "valueFrom" not in e:
                env[n] = expand_vars(e.get("value", ""), env)
                continue
            vf = e["valueFrom"] or {}
            if "secretKeyRef" in vf or "configMapKeyRef" in vf:
                kind = "secretKeyRef" if "secretKeyRef" in vf else "configMapKeyRef"
                ref, res = vf[kind], R_SECRET if kind == "secretKeyRef" else R_CM
                try:
                    obj = self.api.get(res, self.ns, ref.get("name"))
                except ApiError:
                    if ref.get("optional"):
                        continue
                    raise ValueError("CreateContainerConfigError", '%s "%s" not found'
                                     % (res.singular, ref.get("name")))
                data = obj.get("data") or {}
                if ref.get("key") not in data:
                    if ref.get("optional"):
                        continue
                    raise ValueError("CreateContainerConfigError",
                                     "couldn't find key %s in %s %s/%s"
                                     % (ref.get("key"), res.kind, self.ns, ref.get("name")))
                v = data[ref["key"]]
                env[n] = base64.b64decode(v).decode("utf-8", "replace") \
                    if kind == "secretKeyRef" else v
            elif "fieldRef" in vf:
                fp = vf["fieldRef"].get("fieldPath", "")
                vals = {"metadata.name": self.name, "metadata.namespace": self.ns,
                        "metadata.uid": self.uid, "spec.nodeName": NODE,
                        "spec.serviceAccountName": dig(self.pod, "spec", "serviceAccountName",
                                                       default="default"),
                        "status.hostIP": "127.0.0.1", "status.podIP": "127.0.0.1"}
                m = re.fullmatch(r"metadata\.(labels|annotations)\['(.*)'\]", fp)
                if m:
                    env[n] = dig(self.pod, "metadata", m.group(1), m.group(2), default="")
                else:
                    env[n] = vals.get(fp, "")
            elif "resourceFieldRef" in vf:
                env[n] = "0"
        return env

    def run_container(self, c, field, idx, init=False, restarts=0):
        """Runs container c to its end. Returns (exit code, message), or
        (None, None) when the Job's deadline passed."""
        cname = c.get("name", "c")
        fieldpath = "spec.%s{%s}" % ("initContainers" if init else "containers", cname)
        problem = [None]

        def prepare():
            try:
                m, tfile = self.mapping(c)
                env = self.env(c)
                problem[0] = None
                return m, tfile, env
            except ApiError as e:
                problem[0] = ("FailedMount", e.message)
            except ValueError as e:
                problem[0] = e.args if len(e.args) == 2 else ("Failed", str(e))
            return None

        warned = set()
        prepared = [None]

        def check():
            prepared[0] = prepare()
            if prepared[0] is None:
                reason, msg = problem[0]
                if (reason, msg) not in warned:
                    warned.add((reason, msg))
                    if reason == "CreateContainerConfigError":
                        self.event("Failed", "Error: " + msg, "Warning", field=fieldpath)

                        def waiting(st):
                            for cs in st.get(field) or []:
                                if cs.get("name") == cname:
                                    cs["state"] = {"waiting": {"reason": reason, "message": msg}}
                        self.status(waiting)
                    else:
                        self.event(reason, msg, "Warning")
                return False
            return True

        if not self.wait_until(check):
            return None, None
        mapping, tfile, env = prepared[0]
        cmd = list(c.get("command") or [])
        args = list(c.get("args") or [])
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.dir,
                    "HOSTNAME": self.name,
                    "KUBERNETES_SERVICE_HOST": "127.0.0.1",
                    "KUBERNETES_SERVICE_PORT": str(self.fake.port),
                    "KUBERNETES_SERVICE_PORT_HTTPS": str(self.fake.port)}
        for k, v in env.items():
            full_env[k] = rewrite_paths(v, mapping)
        cmd = [rewrite_paths(expand_vars(x, env), mapping) for x in cmd]
        args = [rewrite_paths(expand_vars(x, env), mapping) for x in args]
        logf = os.path.join(self.dir, cname + ".log")
        if restarts and os.path.exists(logf):
            os.replace(logf, os.path.join(self.dir, cname + ".previous.log"))
        open(tfile, "w").close()
        self.event("Pulled", 'Container image "%s" already present on machine' % c.get("image"),
                   field=fieldpath)
        self.event("Created", "Created container %s" % cname, field=fieldpath)
        cid = "fake://" + uuid.uuid4().hex
        started = now_ts()
        wd = rewrite_paths(c.get("workingDir"), mapping) if c.get("workingDir") else self.dir
        if not os.path.isdir(wd):
            wd = self.dir
        proc = None

        def record(code, reason, msg):
            finished = now_ts()

            def terminated(st):
                for cs in st.get(field) or []:
                    if cs.get("name") == cname:
                        t = {"exitCode": code, "reason": reason, "startedAt": started,
                             "finishedAt": finished, "containerID": cid}
                        if msg:
                            t["message"] = msg
                        cs.update({"state": {"terminated": t}, "ready": False, "started": False,
                                   "containerID": cid, "restartCount": restarts})
            self.status(terminated)

        def ended(code):
            msg = self.term_message(c, tfile, logf, code)
            record(code, "Completed" if code == 0 else "Error", msg)
            return msg

        if not cmd and not args:
            code, reason = 128, "ContainerCannotRun"
            msg = "fake: the container has no command (image entrypoints are not modelled)"
            self.event("Failed", "Error: " + msg, "Warning", field=fieldpath)
        else:
            argv = cmd + args if cmd else args
            try:
                with open(logf, "ab") as lf:
                    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=lf,
                                            stderr=subprocess.STDOUT, env=full_env, cwd=wd,
                                            start_new_session=True)
            except OSError as e:
                code, reason = 128, "StartError"
                msg = "failed to create containerd task: exec: \"%s\": %s" % (argv[0], e.strerror)
                self.event("Failed", "Error: " + msg, "Warning", field=fieldpath)
                proc = None
        if proc is not None:
            self.fake.register_proc(self.ns, self.name, self.uid, proc)
            self.event("Started", "Started container %s" % cname, field=fieldpath)

            def running(st):
                st["phase"] = "Running" if not init else "Pending"
                st["podIP"] = "127.0.0.1"
                st["podIPs"] = [{"ip": "127.0.0.1"}]
                conds = st.setdefault("conditions", [])
                if not init:
                    for t in ("Initialized", "Ready", "ContainersReady"):
                        set_condition(conds, t, "True")
                for cs in st.get(field) or []:
                    if cs.get("name") == cname:
                        cs.update({"state": {"running": {"startedAt": started}},
                                   "ready": not init, "started": True, "containerID": cid,
                                   "restartCount": restarts})
            self.status(running)
            if not init and self.jr is not None:
                self.jr.job_status(lambda st: st.update({"ready": 1}))
            deadline_hit = False
            while True:
                try:
                    proc.wait(timeout=0.05)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if not deadline_hit and self.deadline_at and time.time() >= self.deadline_at:
                    # past the Job's deadline: its controller deletes the pod
                    deadline_hit = True
                    self.api.ctl_delete(R_POD, self.ns, self.name, uid=self.uid)
                if not self.alive():
                    self.stop(proc, cname, fieldpath, ended)
                    if deadline_hit:
                        return None, None
                    raise PodGone()
            self.fake.unregister_proc(self.ns, self.name, proc)
            code = proc.returncode
            if code < 0:
                code = 128 - code  # killed by signal N: 128+N, as a container runtime reports
            if self.life() == "terminating":  # stopped before this loop saw it deleted
                self.event("Killing", "Stopping container %s" % cname, field=fieldpath)
            msg = ended(code)
            if not self.alive():  # it ended as it was being deleted
                self.remove("Succeeded" if code == 0 else "Failed")
                if deadline_hit:
                    return None, None
                raise PodGone()
            return code, msg
        record(code, reason, msg)
        return code, msg

    @staticmethod
    def term_message(c, tfile, logf, code):
        try:
            with open(tfile, "rb") as f:
                msg = f.read(4096)
        except OSError:
            msg = b""
        if not msg.strip() and code != 0 and c.get("terminationMessagePolicy") == \
                "FallbackToLogsOnError":
            try:
                with open(logf, "rb") as f:
                    data = f.read()
            except OSError:
                data = b""
            lines = data.splitlines(keepends=True)[-80:]
            msg = b"".join(lines)[-2048:]
        return msg.decode("utf-8", "replace")


# ---------------------------------------------------------------- discovery & OpenAPI


def api_resource_list(group, version):
    gv = "%s/%s" % (group, version) if group else version
    out = []
    for r in RESOURCES:
        if r.group != group or r.version != version:
            continue
        e = {"name": r.name, "singularName": r.singular, "namespaced": r.namespaced,
             "kind": r.kind, "verbs": list(r.verbs)}
        if r.short:
            e["shortNames"] = list(r.short)
        if r.categories:
            e["categories"] = list(r.categories)
        e["storageVersionHash"] = base64.b64encode(
            hashlib.sha256(("%s/%s" % (gv, r.kind)).encode()).digest()[:8]).decode()
        out.append(e)
        if r.status:
            out.append({"name": r.name + "/status", "singularName": "", "namespaced": r.namespaced,
                        "kind": r.kind, "verbs": ["get", "patch", "update"]})
        if r.name == "pods":
            out.append({"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod",
                        "verbs": ["get"]})
    doc = {"kind": "APIResourceList", "groupVersion": gv, "resources": out}
    if group:
        doc = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}
    return doc


def api_group(group, versions):
    vs = [{"groupVersion": "%s/%s" % (group, v), "version": v} for v in versions]
    return {"name": group, "versions": vs, "preferredVersion": vs[0]}


_QPARAMS = ["dryRun", "fieldManager", "fieldValidation", "force", "pretty"]


def openapi_gv_paths(group, version, v3):
    """Paths of one group-version: enough for kubectl to see that PATCH
    takes fieldValidation (so it leaves validation to the server)."""
    paths = {}
    for r in RESOURCES:
        if r.group != group or r.version != version:
            continue
        gvk = {"group": group, "version": version, "kind": r.kind}
        base = r.base_path("{namespace}" if r.namespaced else None)
        params = []
        for p in _QPARAMS:
            if v3:
                params.append({"name": p, "in": "query", "schema": {"type": "string",
                                                                   "uniqueItems": True}})
            else:
                params.append({"name": p, "in": "query", "type": "string", "uniqueItems": True})
        ident = r.kind + ("Namespaced" if r.namespaced else "")

        def op(action, verb):
            o = {"operationId": "%s%s%s" % (verb, group.split(".")[0].capitalize(), ident),
                 "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk,
                 "parameters": params if action in ("patch", "post", "put") else [],
                 "responses": {"200": {"description": "OK"}}}
            return o
        paths[base + "/{name}"] = {"get": op("get", "read"), "put": op("put", "replace"),
                                   "patch": op("patch", "patch"),
                                   "delete": op("delete", "delete")}
        paths[base] = {"get": op("list", "list"), "post": op("post", "create")}
    return paths


def openapi_schemas(group, version):
    out = {}
    for r in RESOURCES:
        if r.group == group and r.version == version:
            gname = group or "core"
            out["%s.%s.%s" % (".".join(reversed(gname.split("."))), version, r.kind)] = {
                "type": "object", "x-kubernetes-preserve-unknown-fields": True,
                "x-kubernetes-group-version-kind": [{"group": group, "kind": r.kind,
                                                     "version": version}]}
    return out


def openapi_v3_doc(group, version, gitversion):
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": gitversion},
            "paths": openapi_gv_paths(group, version, True),
            "components": {"schemas": openapi_schemas(group, version)}}


def openapi_v2_doc(gitversion):
    paths, defs = {}, {}
    for g, vs in group_versions():
        for v in vs:
            paths.update(openapi_gv_paths(g, v, False))
            defs.update(openapi_schemas(g, v))
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": gitversion},
            "paths": paths, "definitions": defs}


def _pb_field(num, payload):
    """A length-delimited protobuf field."""
    n = len(payload)
    var = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        var.append(b | (0x80 if n else 0))
        if not n:
            break
    return bytes([(num << 3) | 2]) + bytes(var) + payload


def openapi_v2_protobuf(gitversion):
    """gnostic openapi_v2.Document with swagger, info and empty paths and
    definitions: what kubectl 1.20's client-side validation downloads;
    a kind it does not find is not validated."""
    info = _pb_field(1, b"Kubernetes") + _pb_field(2, gitversion.encode())
    return _pb_field(1, b"2.0") + _pb_field(2, info) + _pb_field(8, b"") + _pb_field(9, b"")


# ---------------------------------------------------------------- protobuf bodies
#
# kubectl >= 1.32 sends the objects of its typed generators (kubectl create
# namespace/configmap/secret/serviceaccount) as Kubernetes protobuf. The
# fake decodes those kinds with the field numbers of k8s.io/api's
# generated.proto; any other protobuf body is refused with 415.


def _pb_varint(b, i):
    shift = v = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def pb_fields(b):
    """[(field number, wire type, value)] of one message (bytes for
    length-delimited fields, ints for varints)."""
    out, i = [], 0
    while i < len(b):
        key, i = _pb_varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _pb_varint(b, i)
        elif wt == 2:
            n, i = _pb_varint(b, i)
            v, i = bytes(b[i:i + n]), i + n
        elif wt == 1:
            v, i = int.from_bytes(b[i:i + 8], "little"), i + 8
        elif wt == 5:
            v, i = int.from_bytes(b[i:i + 4], "little"), i + 4
        else:
            raise ValueError("unsupported protobuf wire type %d" % wt)
        out.append((num, wt, v))
    return out


def _pb_map(v, bytes_value=False):
    k = val = None
    for n, _, x in pb_fields(v):
        if n == 1:
            k = x.decode()
        elif n == 2:
            val = base64.b64encode(x).decode() if bytes_value else x.decode()
    return k, (val if val is not None else "")


def _pb_meta(b):
    m = {}
    for n, _, v in pb_fields(b):
        if n in (1, 2, 3, 5, 6):
            m[{1: "name", 2: "generateName", 3: "namespace", 5: "uid",
               6: "resourceVersion"}[n]] = v.decode()
        elif n in (11, 12):
            k, val = _pb_map(v)
            m.setdefault("labels" if n == 11 else "annotations", {})[k] = val
        elif n == 14:
            m.setdefault("finalizers", []).append(v.decode())
    return m


def _pb_name_list(v):
    return {"name": next((x.decode() for n, _, x in pb_fields(v) if n == 1), "")}


PB_KINDS = {
    # kind: {field: (json name, decoder)}
    "Namespace": {2: ("spec", lambda v: {"finalizers": [x.decode() for n, _, x in pb_fields(v)
                                                          if n == 1]})},
    "ConfigMap": {2: ("data", "map"), 3: ("binaryData", "bmap"), 4: ("immutable", "bool")},
    "Secret": {2: ("data", "bmap"), 3: ("type", "str"), 4: ("stringData", "map"),
               5: ("immutable", "bool")},
    "ServiceAccount": {2: ("secrets", "list", _pb_name_list),
                       3: ("imagePullSecrets", "list", _pb_name_list),
                       4: ("automountServiceAccountToken", "bool")},
}


def decode_k8s_protobuf(body):
    """A JSON object from a Kubernetes protobuf body, or raise ValueError."""
    if body[:4] != b"k8s\x00":
        raise ValueError("missing the k8s protobuf magic")
    av = kind = raw = None
    for n, _, v in pb_fields(body[4:]):
        if n == 1:
            for tn, _, tv in pb_fields(v):
                if tn == 1:
                    av = tv.decode()
                elif tn == 2:
                    kind = tv.decode()
        elif n == 2:
            raw = v
    if kind not in PB_KINDS:
        raise ValueError("the fake decodes protobuf only for %s, not %s"
                         % (", ".join(sorted(PB_KINDS)), kind))
    obj = {"apiVersion": av, "kind": kind, "metadata": {}}
    schema = PB_KINDS[kind]
    for n, _, v in pb_fields(raw or b""):
        if n == 1:
            obj["metadata"] = _pb_meta(v)
            continue
        if n not in schema:
            continue
        spec = schema[n]
        name, how = spec[0], spec[1]
        if callable(how):
            obj[name] = how(v)
        elif how == "str":
            obj[name] = v.decode()
        elif how == "bool":
            obj[name] = bool(v)
        elif how in ("map", "bmap"):
            k, val = _pb_map(v, how == "bmap")
            obj.setdefault(name, {})[k] = val
        elif how == "list":
            obj.setdefault(name, []).append(spec[2](v))
    return obj


# ---------------------------------------------------------------- tables


def _cond_true(obj, t):
    return any(c.get("type") == t and c.get("status") == "True"
               for c in dig(obj, "status", "conditions", default=[]) or [])


def _pod_status(o):
    st = o.get("status") or {}
    if dig(o, "metadata", "deletionTimestamp"):
        return "Terminating"
    for cs in st.get("containerStatuses") or []:
        s = cs.get("state") or {}
        if "waiting" in s and s["waiting"].get("reason"):
            return s["waiting"]["reason"]
        if "terminated" in s and s["terminated"].get("reason"):
            return s["terminated"]["reason"]
    return st.get("phase", "Pending")


def _job_status(o):
    if _cond_true(o, "Complete"):
        return "Complete"
    if _cond_true(o, "Failed"):
        return "Failed"
    if dig(o, "spec", "suspend"):
        return "Suspended"
    return "Running"


def _age(o):
    return human_age(dig(o, "metadata", "creationTimestamp"))


TABLE_COLUMNS = {
    "namespaces": [("Status", lambda o: dig(o, "status", "phase", default=""))],
    "persistentvolumeclaims": [
        ("Status", lambda o: dig(o, "status", "phase", default="")),
        ("Volume", lambda o: dig(o, "spec", "volumeName", default="")),
        ("Capacity", lambda o: dig(o, "status", "capacity", "storage", default="")),
        ("Access Modes", lambda o: ",".join(
            {"ReadWriteOnce": "RWO", "ReadWriteMany": "RWX", "ReadOnlyMany": "ROX",
             "ReadWriteOncePod": "RWOP"}.get(m, m)
            for m in dig(o, "status", "accessModes", default=[]) or [])),
        ("StorageClass", lambda o: dig(o, "spec", "storageClassName", default="")),
        ("VolumeMode", lambda o: dig(o, "spec", "volumeMode", default=""))],
    "pods": [
        ("Ready", lambda o: "%d/%d" % (sum(1 for c in dig(o, "status", "containerStatuses",
                                                          default=[]) or [] if c.get("ready")),
                                       len(dig(o, "spec", "containers", default=[]) or []))),
        ("Status", _pod_status),
        ("Restarts", lambda o: str(sum(c.get("restartCount", 0) for c in
                                       dig(o, "status", "containerStatuses", default=[]) or [])))],
    "jobs": [("Status", _job_status),
             ("Completions", lambda o: "%d/%d" % (dig(o, "status", "succeeded", default=0),
                                                  dig(o, "spec", "completions", default=1)))],
    "events": [("Type", lambda o: o.get("type", "")), ("Reason", lambda o: o.get("reason", "")),
               ("Object", lambda o: "%s/%s" % (dig(o, "involvedObject", "kind", default="").lower(),
                                               dig(o, "involvedObject", "name", default=""))),
               ("Message", lambda o: o.get("message", ""))],
    "virtualmachines": [("Status", lambda o: dig(o, "status", "printableStatus", default="")),
                        ("Ready", lambda o: str(bool(dig(o, "status", "ready"))))],
    "virtualmachineinstances": [("Phase", lambda o: dig(o, "status", "phase", default="")),
                                ("NodeName", lambda o: dig(o, "status", "nodeName", default=""))],
    "datavolumes": [("Phase", lambda o: dig(o, "status", "phase", default="")),
                    ("Progress", lambda o: dig(o, "status", "progress", default="")),
                    ("Restarts", lambda o: str(dig(o, "status", "restartCount", default=0)))],
    "storageclasses": [("Provisioner", lambda o: o.get("provisioner", "")),
                       ("ReclaimPolicy", lambda o: o.get("reclaimPolicy", "")),
                       ("VolumeBindingMode", lambda o: o.get("volumeBindingMode", ""))],
    "secrets": [("Type", lambda o: o.get("type", "")),
                ("Data", lambda o: str(len(o.get("data") or {})))],
    "configmaps": [("Data", lambda o: str(len(o.get("data") or {})))],
}


def to_table(res, objs, list_meta, include, table_version, with_columns=True):
    cols = [("Name", None)] + TABLE_COLUMNS.get(res.name, []) + [("Age", _age)]
    t = {"kind": "Table", "apiVersion": "meta.k8s.io/" + table_version,
         "metadata": list_meta or {}}
    if with_columns:
        t["columnDefinitions"] = [
            {"name": n, "type": "string", "format": "name" if f is None else "",
             "description": "Name must be unique within a namespace." if f is None else n,
             "priority": 0} for n, f in cols]
    rows = []
    for o in objs:
        cells = [dig(o, "metadata", "name", default="")] + [f(o) for _, f in cols[1:]]
        row = {"cells": cells}
        if include == "Object":
            row["object"] = o
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": o.get("metadata", {})}
        rows.append(row)
    t["rows"] = rows
    return t


def accept_kind(accept):
    """'table-v1', 'table-v1beta1', 'json' or None (nothing acceptable)."""
    if not accept:
        return "json"
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        mt = fields[0].lower()
        ps = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
        if mt in ("application/json", "application/*", "*/*"):
            if ps.get("as") == "Table" and ps.get("g") == "meta.k8s.io":
                if ps.get("v") in ("v1", "v1beta1"):
                    return "table-" + ps["v"]
                continue
            if ps.get("as"):
                continue  # e.g. APIGroupDiscoveryList, PartialObjectMetadata: not served
            return "json"
        if mt in ("application/yaml",):
            return "json"
    return None


# ---------------------------------------------------------------- HTTP


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakekube"
    sys_version = ""

    def log_message(self, fmt, *a):
        self.server.fake.debug("%s %s" % (self.address_string(), fmt % a))

    def setup(self):
        sock = self.request
        if isinstance(sock, ssl.SSLSocket):
            sock.settimeout(10)
            try:
                sock.do_handshake()
            except (ssl.SSLError, OSError) as e:
                self.server.fake.debug("TLS handshake: %s" % e)
                self.tls_failed = True
            sock.settimeout(None)
        super().setup()

    def handle(self):
        if getattr(self, "tls_failed", False):
            return
        try:
            super().handle()
        except (ConnectionError, ssl.SSLError, socket.timeout):
            pass

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    # ---- low level

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            buf = bytearray()
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(buf)
                buf += self.rfile.read(size)
                self.rfile.readline(65537)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def log_request_record(self, code):
        rec = self.rec
        if rec is None:
            return
        rec["status"] = code
        self.rec = None
        self.server.fake.log_request(rec)

    def send_bytes(self, code, data, ctype="application/json", headers=None):
        self.log_request_record(code)
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def send_json(self, code, obj, headers=None):
        self.send_bytes(code, json.dumps(obj, separators=(",", ":")).encode() + b"\n",
                        headers=headers)

    def send_error_status(self, e):
        self.send_json(e.code, e.status(), e.headers)

    def start_chunked(self, ctype="application/json"):
        self.log_request_record(200)
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def end_chunked(self):
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (OSError, ValueError):
            self.close_connection = True

    def client_gone(self):
        sock = self.connection
        try:
            r, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        if not r and not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
            return False
        try:
            sock.settimeout(0.01)
            data = sock.recv(1)
            return data == b""
        except (ssl.SSLWantReadError, socket.timeout, BlockingIOError, InterruptedError):
            return False
        except (OSError, ssl.SSLError):
            return True
        finally:
            try:
                sock.settimeout(None)
            except OSError:
                pass

    # ---- dispatch

    def dispatch(self):
        fake = self.server.fake
        u = urllib.parse.urlsplit(self.path)
        path = u.path
        multi = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        params = {k: v[0] for k, v in multi.items()}
        self.rec = None
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        ctype = self.headers.get("Content-Type", "")
        rec = {"time": now_micro(), "method": self.command, "path": path, "query": u.query,
               "params": params, "content_type": ctype,
               "accept": self.headers.get("Accept", ""),
               "user_agent": self.headers.get("User-Agent", ""), "auth": "none"}
        if body:
            parsed = None
            try:
                text = body.decode("utf-8")
                try:
                    parsed = json.loads(text)
                except ValueError:
                    if "yaml" in ctype:
                        parsed = yaml_load(text)
            except (UnicodeDecodeError, ValueError):
                text = None
            if parsed is not None:
                rec["body"] = parsed
            else:
                rec["body_text"] = text if text is not None else \
                    base64.b64encode(body).decode()
        self.rec = rec
        try:
            if path.startswith("/_fake/"):
                return self.control(path, body, params)
            who = self.authenticate()
            rec["auth"] = who
            if who in ("none", "bad") and not (
                    who == "none" and self.command == "GET" and fake.args.anonymous and
                    path in ("/version", "/healthz", "/livez", "/readyz")):
                raise ApiError(401, "Unauthorized", "Unauthorized")
            inj = fake.take_injection(self.command, path, u.query)
            if inj is not None:
                if inj.get("delay"):
                    time.sleep(float(inj["delay"]))
                if inj.get("code"):
                    raise injected_error(inj)
            self.route(path, params, multi, body, ctype)
        except ApiError as e:
            self.send_error_status(e)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        except Exception as e:  # a bug: answer 500 as the apiserver would
            import traceback
            fake.debug("handler error: %r\n%s" % (e, traceback.format_exc()))
            try:
                self.send_error_status(ApiError(500, "InternalError",
                                                "Internal error occurred: %s" % e))
            except OSError:
                self.close_connection = True

    def authenticate(self):
        fake = self.server.fake
        auth = self.headers.get("Authorization")
        if auth:
            scheme, _, cred = auth.partition(" ")
            if scheme.lower() == "bearer" and fake.args.token and cred.strip() == fake.args.token:
                return "token"
            return "bad"
        if isinstance(self.connection, ssl.SSLSocket) and fake.args.client_ca:
            try:
                cert = self.connection.getpeercert()
            except ValueError:
                cert = None
            if cert:
                for rdn in cert.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            return "cert:" + v
                return "cert"
        return "none"

    def control(self, path, body, params):
        fake = self.server.fake
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError:
            raise err_bad_request("control endpoints take JSON")
        if path == "/_fake/inject" and self.command == "POST":
            return self.send_json(200, {"id": fake.add_injection(data)})
        if path == "/_fake/inject" and self.command == "DELETE":
            fake.injections.clear()
            return self.send_json(200, {"cleared": True})
        if path == "/_fake/inject" and self.command == "GET":
            return self.send_json(200, {"injections": fake.injections})
        if path == "/_fake/compact" and self.command == "POST":
            fake.store.compact(int(data.get("keep", 0)))
            return self.send_json(200, {"resourceVersion": str(fake.store.rv),
                                        "floor": str(fake.store.floor)})
        if path == "/_fake/state" and self.command == "GET":
            with fake.proc_lock:
                procs = dict(fake.procs)
            with fake.store.lock:
                st = {"resourceVersion": str(fake.store.rv), "floor": str(fake.store.floor),
                      "history": len(fake.store.history), "objects": len(fake.store.objs),
                      "runRoot": fake.run_root,
                      "processes": ["%s/%s" % (k[0], k[1]) for k in procs],
                      "pids": {"%s/%s" % k: v[1].pid for k, v in procs.items()}}
            return self.send_json(200, st)
        if path == "/_fake/objects" and self.command == "GET":
            with fake.store.lock:
                objs = [copy.deepcopy(o) for _, o in sorted(fake.store.objs.items())]
            return self.send_json(200, {"items": objs})
        if path == "/_fake/mark" and self.command == "POST":
            fake.log_request({"time": now_micro(), "mark": data.get("mark", "")})
            self.rec = None
            return self.send_json(200, {})
        raise ApiError(404, "NotFound", "no such fake control endpoint: %s %s"
                       % (self.command, path))

    def route(self, path, params, multi, body, ctype):
        fake = self.server.fake
        segs = [s for s in path.split("/") if s]
        m = self.command
        if path in ("/healthz", "/livez", "/readyz"):
            return self.send_bytes(200, b"ok", "text/plain; charset=utf-8")
        if path == "/version":
            return self.send_json(200, fake.version_info())
        if path in ("/openapi/v2", "/swagger.json"):
            acc = self.headers.get("Accept", "")
            if "protobuf" in acc.split(",")[0]:
                return self.send_bytes(200, openapi_v2_protobuf(fake.args.server_version),
                                       "application/com.github.proto-openapi.spec.v2.v1.0"
                                       "+protobuf")
            return self.send_json(200, openapi_v2_doc(fake.args.server_version))
        if segs[:2] == ["openapi", "v3"]:
            return self.openapi_v3(segs[2:])
        if not segs or segs[0] not in ("api", "apis"):
            return self.not_found_text()
        if m not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            raise err_method(None, m)
        gvs = dict(group_versions())
        if segs[0] == "api":
            if len(segs) == 1:
                return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                            "serverAddressByClientCIDRs": [
                                                {"clientCIDR": "0.0.0.0/0",
                                                 "serverAddress": "127.0.0.1:%d" % fake.port}]})
            if segs[1] != "v1":
                return self.not_found_text()
            group, version, rest = "", "v1", segs[2:]
        else:
            if len(segs) == 1:
                return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                            "groups": [api_group(g, vs) for g, vs in
                                                       group_versions() if g]})
            if segs[1] not in gvs or not segs[1]:
                return self.not_found_text()
            if len(segs) == 2:
                d = api_group(segs[1], gvs[segs[1]])
                d = dict({"kind": "APIGroup", "apiVersion": "v1"}, **d)
                return self.send_json(200, d)
            if segs[2] not in gvs[segs[1]]:
                return self.not_found_text()
            group, version, rest = segs[1], segs[2], segs[3:]
        if not rest:
            if m != "GET":
                raise err_method(None, m)
            return self.send_json(200, api_resource_list(group, version))
        ns = name = sub = None
        if rest[0] == "namespaces" and len(rest) >= 3 and \
                (res_for(group, version, rest[2]) or None) and \
                res_for(group, version, rest[2]).namespaced:
            ns, res = rest[1], res_for(group, version, rest[2])
            name = rest[3] if len(rest) > 3 else None
            sub = rest[4] if len(rest) > 4 else None
            if len(rest) > 5:
                raise self.nf()
        else:
            res = res_for(group, version, rest[0])
            if res is None:
                raise self.nf()
            name = rest[1] if len(rest) > 1 else None
            sub = rest[2] if len(rest) > 2 else None
            if len(rest) > 3 or (res.namespaced and name is not None):
                raise self.nf()
        if sub is not None and not ((sub == "status" and res.status) or
                                    (sub == "log" and res is R_POD and m == "GET")):
            raise self.nf()
        api = fake.api
        ua = self.headers.get("User-Agent", "")
        if m in ("POST", "PUT") and "protobuf" in ctype.lower():
            try:
                body = json.dumps(decode_k8s_protobuf(body)).encode()
                ctype = "application/json"
                self.rec_body_decoded(body)
            except (ValueError, IndexError, UnicodeDecodeError) as e:
                raise ApiError(415, "UnsupportedMediaType",
                               "the body of the request was in an unknown format - accepted "
                               "media types include: application/json, application/yaml (%s)"
                               % e)
        elif m == "PATCH" and "protobuf" in ctype.lower():
            raise ApiError(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted media "
                           "types include: application/json-patch+json, "
                           "application/merge-patch+json, application/apply-patch+yaml")
        kind = accept_kind(self.headers.get("Accept", ""))
        if kind is None:
            raise ApiError(406, "NotAcceptable",
                           "only the following media types are accepted: application/json, "
                           "application/yaml, application/vnd.kubernetes.protobuf")
        if m == "GET":
            if sub == "log":
                return self.pod_log(ns, name, params)
            if name is None:
                if params.get("watch") in ("1", "true", "True"):
                    return self.watch(res, ns, params, kind)
                lst = api.list(res, ns, params)
                if kind.startswith("table"):
                    items = lst["items"]
                    for o in items:
                        o.setdefault("apiVersion", res.gv)
                        o.setdefault("kind", res.kind)
                    return self.send_json(200, to_table(res, items, lst["metadata"],
                                                        params.get("includeObject", "Metadata"),
                                                        kind[6:]))
                return self.send_json(200, lst)
            obj = api.get(res, ns, name)
            if kind.startswith("table"):
                return self.send_json(200, to_table(res, [obj], {"resourceVersion":
                                                                 obj["metadata"]["resourceVersion"]},
                                                    params.get("includeObject", "Metadata"),
                                                    kind[6:]))
            return self.send_json(200, obj)
        if m == "POST":
            if name is not None or (res.namespaced and ns is None):
                raise err_method(res, "create")
            obj = api.create(res, ns, self.parse_body(body, ctype), params, ua)
            return self.send_json(201, obj)
        if m == "PUT":
            if name is None:
                raise err_method(res, "update")
            obj = api.update(res, ns, name, self.parse_body(body, ctype), params, ua, sub)
            return self.send_json(200, obj)
        if m == "PATCH":
            if name is None:
                raise err_method(res, "patch")
            code, obj = api.patch(res, ns, name, ctype, body, params, ua, sub)
            return self.send_json(code, obj)
        if m == "DELETE":
            opts = None
            if body.strip():
                try:
                    opts = json.loads(body)
                except ValueError:
                    raise err_bad_request("error decoding DeleteOptions")
            if name is None:
                return self.send_json(200, api.delete_collection(res, ns, params, opts))
            code, obj = api.delete(res, ns, name, params, opts)
            return self.send_json(code, obj)
        raise err_method(res, m)

    def rec_body_decoded(self, body):
        """The request log keeps a decoded protobuf body as JSON too."""
        rec = self.rec
        if rec is not None:
            rec["body"] = json.loads(body)
            rec["body_encoding"] = "protobuf"
            rec.pop("body_text", None)

    @staticmethod
    def nf():
        return ApiError(404, "NotFound", "the server could not find the requested resource", {})

    def not_found_text(self):
        self.send_bytes(404, b"404 page not found\n", "text/plain; charset=utf-8")

    @staticmethod
    def parse_body(body, ctype):
        try:
            text = body.decode("utf-8")
            if "yaml" in ctype:
                return yaml_load(text)
            return json.loads(text)
        except (UnicodeDecodeError, ValueError) as e:
            raise err_bad_request("the object provided is unrecognized: %s" % e)

    def openapi_v3(self, rest):
        fake = self.server.fake
        ver = fake.args.server_version
        if not rest:
            paths = {}
            for g, vs in group_versions():
                for v in vs:
                    p = "api/%s" % v if not g else "apis/%s/%s" % (g, v)
                    doc = json.dumps(openapi_v3_doc(g, v, ver), sort_keys=True).encode()
                    paths[p] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (
                        p, hashlib.sha512(doc).hexdigest().upper())}
            return self.send_json(200, {"paths": paths})
        if rest[0] == "api" and len(rest) == 2 and rest[1] == "v1":
            return self.send_json(200, openapi_v3_doc("", "v1", ver))
        if rest[0] == "apis" and len(rest) == 3:
            gvs = dict(group_versions())
            if rest[2] in gvs.get(rest[1], []):
                return self.send_json(200, openapi_v3_doc(rest[1], rest[2], ver))
        return self.not_found_text()

    # ---- watch

    def watch(self, res, ns, params, kind):
        fake = self.server.fake
        store = fake.store
        lsel = Selector(params.get("labelSelector"))
        fsel = FieldSelector(params.get("fieldSelector"), res)
        try:
            timeout = float(params.get("timeoutSeconds") or fake.args.watch_timeout)
        except ValueError:
            raise err_bad_request("invalid timeoutSeconds")
        end = time.time() + timeout
        rv = params.get("resourceVersion")
        table = kind.startswith("table")
        initial = []
        with store.lock:
            if rv in (None, "", "0") or params.get("sendInitialEvents") == "true":
                for o in store.items(res, ns if res.namespaced else None):
                    if lsel.matches(dig(o, "metadata", "labels")) and fsel.matches(o):
                        initial.append(("ADDED", copy.deepcopy(o)))
                last = store.rv
            else:
                try:
                    last = int(rv)
                except ValueError:
                    raise err_bad_request("invalid resource version: %s" % rv)
                if last < store.floor:
                    exp = ApiError(410, "Expired", "too old resource version: %d (%d)"
                                   % (last, store.floor + 1))
                    if fake.args.watch_expired_http:
                        raise exp
                    self.start_chunked()
                    self.chunk(json.dumps({"type": "ERROR", "object": exp.status()},
                                          separators=(",", ":")).encode() + b"\n")
                    self.end_chunked()
                    return
        if params.get("sendInitialEvents") == "true":
            initial.append(("BOOKMARK", {"kind": res.kind, "apiVersion": res.gv, "metadata": {
                "resourceVersion": str(last),
                "annotations": {"k8s.io/initial-events-end": "true"}}}))
        self.start_chunked()
        first = [True]

        def send(evtype, obj):
            if table and evtype != "BOOKMARK" and evtype != "ERROR":
                obj = to_table(res, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]},
                               params.get("includeObject", "Metadata"), kind[6:],
                               with_columns=first[0])
                first[0] = False
            self.chunk(json.dumps({"type": evtype, "object": obj},
                                  separators=(",", ":")).encode() + b"\n")

        try:
            for evtype, obj in initial:
                send(evtype, obj)
            while True:
                evs = []
                expired = False
                with store.cond:
                    for e in reversed(store.history):
                        if e[0] <= last:
                            break
                        evs.append(e)
                    evs.reverse()
                    if last < store.floor and (not evs or evs[0][0] > last + 1):
                        expired = store.floor
                    if not evs and not expired:
                        rem = end - time.time()
                        if rem <= 0:
                            break
                        store.cond.wait(min(rem, 0.5))
                if expired is not False:
                    exp = ApiError(410, "Expired", "too old resource version: %d (%d)"
                                   % (last, expired + 1))
                    send("ERROR", exp.status())
                    break
                for (erv, rkey, ens, etype, obj, old) in evs:
                    last = erv
                    if rkey != res.key or (ns is not None and res.namespaced and ens != ns):
                        continue
                    now_m = lsel.matches(dig(obj, "metadata", "labels")) and fsel.matches(obj)
                    was_m = old is not None and lsel.matches(dig(old, "metadata", "labels")) and \
                        fsel.matches(old)
                    if etype == "DELETED":
                        if was_m or now_m:
                            send("DELETED", obj)
                    elif etype == "ADDED":
                        if now_m:
                            send("ADDED", obj)
                    else:
                        if now_m and was_m:
                            send("MODIFIED", obj)
                        elif now_m:
                            send("ADDED", obj)
                        elif was_m:
                            send("DELETED", obj)
                if time.time() >= end or self.client_gone():
                    break
        except (OSError, ValueError, ssl.SSLError):
            self.close_connection = True
            return
        self.end_chunked()

    # ---- pod logs

    def pod_log(self, ns, name, params):
        fake = self.server.fake
        pod = fake.api.get(R_POD, ns, name)
        cs = [c.get("name") for c in dig(pod, "spec", "containers", default=[]) or []] + \
            [c.get("name") for c in dig(pod, "spec", "initContainers", default=[]) or []]
        cname = params.get("container")
        if not cname:
            if len(dig(pod, "spec", "containers", default=[]) or []) != 1:
                raise err_bad_request("a container name must be specified for pod %s, choose one "
                                      "of: [%s]" % (name, " ".join(cs[:len(pod["spec"]["containers"])])))
            cname = cs[0]
        elif cname not in cs:
            raise err_bad_request("container %s is not valid for pod %s" % (cname, name))
        d = os.path.join(fake.run_root, ns, name)
        logf = os.path.join(d, cname + (".previous.log" if params.get("previous") == "true"
                                        else ".log"))
        if not os.path.exists(logf):
            state = "ContainerCreating"
            for c in (dig(pod, "status", "containerStatuses", default=[]) or []) + \
                    (dig(pod, "status", "initContainerStatuses", default=[]) or []):
                if c.get("name") == cname and "waiting" in (c.get("state") or {}):
                    state = c["state"]["waiting"].get("reason", state)
            if params.get("previous") == "true":
                raise err_bad_request('previous terminated container "%s" in pod "%s" not found'
                                      % (cname, name))
            raise err_bad_request('container "%s" in pod "%s" is waiting to start: %s'
                                  % (cname, name, state))

        def tail(data):
            tl = params.get("tailLines")
            if tl not in (None, ""):
                n = int(tl)
                lines = data.splitlines(keepends=True)
                data = b"".join(lines[-n:]) if n > 0 else b""
            lb = params.get("limitBytes")
            if lb not in (None, ""):
                data = data[:int(lb)]
            return data

        with open(logf, "rb") as f:
            data = f.read()
        if params.get("follow") != "true":
            return self.send_bytes(200, tail(data), "text/plain")
        self.start_chunked("text/plain")
        try:
            self.chunk(tail(data))
            with open(logf, "rb") as f:
                f.seek(len(data))
                while True:
                    more = f.read(65536)
                    if more:
                        self.chunk(more)
                        continue
                    if not fake.pod_running(ns, name) or self.client_gone():
                        more = f.read()
                        self.chunk(more)
                        break
                    time.sleep(0.1)
        except (OSError, ValueError, ssl.SSLError):
            self.close_connection = True
            return
        self.end_chunked()


STATUS_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
                  405: "MethodNotAllowed", 409: "Conflict", 410: "Expired", 422: "Invalid",
                  429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
                  504: "Timeout"}


def injected_error(inj):
    code = int(inj["code"])
    reason = inj.get("reason") or STATUS_REASONS.get(code, "Unknown")
    msg = inj.get("message") or {
        429: "Too many requests, please try again later.",
        500: "Internal error occurred: fake: injected failure",
        503: "The server is currently unable to handle the request",
        504: "Timeout: request did not complete within the allotted timeout",
    }.get(code, "fake: injected %d" % code)
    headers = {}
    details = None
    ra = inj.get("retryAfter")
    if ra is None and code == 429:
        ra = 1
    if ra is not None:
        headers["Retry-After"] = str(ra)
        details = {"retryAfterSeconds": int(ra)}
    if code == 429:
        # API Priority and Fairness headers, as a rejected request carries.
        headers["X-Kubernetes-Pf-Flowschema-Uid"] = "fakekube"
        headers["X-Kubernetes-Pf-Prioritylevel-Uid"] = "fakekube"
    return ApiError(code, reason, msg, details, headers)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, fake, tls_ctx):
        self.fake, self.tls_ctx = fake, tls_ctx
        super().__init__(addr, Handler)

    def get_request(self):
        sock, addr = super().get_request()
        # Headers and body go out in separate writes: without TCP_NODELAY,
        # Nagle's algorithm and the client's delayed ACK add 40 ms to each
        # response.
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if self.tls_ctx is not None:
            # The handshake runs in the connection's own thread (Handler.setup).
            sock = self.tls_ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr


# ---------------------------------------------------------------- the fake


class Fake:
    def __init__(self, args):
        self.args = args
        m = re.match(r"v?(\d+)\.(\d+)", args.server_version)
        if not m:
            sys.exit("fakekube: --server-version must look like v1.31.0")
        self.major, self.minor = int(m.group(1)), int(m.group(2))
        self.store = Store(args.history)
        self.api = Api(self)
        self.lock_log = threading.Lock()
        self.logf = open(args.log, "a", buffering=1) if args.log else None
        self.injections = []
        self.inj_lock = threading.Lock()
        self.procs = {}  # (ns, pod) -> (uid, Popen)
        self.kill_at = {}  # Popen being stopped -> when it gets SIGKILL
        self.following = set()  # uids of the pods a PodRunner follows
        self.proc_lock = threading.Lock()
        self.port = 0
        self.ca_pem = ""
        if args.cert:
            with open(args.cert) as f:
                self.ca_pem = f.read()
        self.run_root = os.path.abspath(args.run_root)
        os.makedirs(self.run_root, exist_ok=True)
        self.controllers = Controllers(self)
        self.store.on_event = self.controllers.enqueue

    def debug(self, msg):
        if self.args.debug:
            sys.stderr.write("fakekube: %s\n" % msg)
            sys.stderr.flush()

    def version_info(self):
        v = self.args.server_version
        return {"major": str(self.major), "minor": str(self.minor), "gitVersion": v,
                "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                "buildDate": "2024-01-01T00:00:00Z", "goVersion": "go1.22.0", "compiler": "gc",
                "platform": "linux/amd64"}

    def log_request(self, rec):
        if self.logf is None:
            return
        line = json.dumps(rec, separators=(",", ":"), sort_keys=False)
        with self.lock_log:
            self.logf.write(line + "\n")
            self.logf.flush()

    # ---- injections

    def add_injection(self, d):
        inj = {"method": (d.get("method") or "*").upper(), "path": d.get("path") or ".*",
               "query": d.get("query"), "code": int(d.get("code") or 0),
               "count": int(d.get("count", 1)), "retryAfter": d.get("retryAfter"),
               "delay": float(d.get("delay") or 0), "reason": d.get("reason"),
               "message": d.get("message")}
        try:
            re.compile(inj["path"])
            re.compile(inj["query"] or "")
        except re.error as e:
            raise err_bad_request("bad regex: %s" % e)
        with self.inj_lock:
            inj["id"] = len(self.injections) + 1
            self.injections.append(inj)
        return inj["id"]

    def take_injection(self, method, path, query):
        with self.inj_lock:
            for inj in self.injections:
                if inj["count"] == 0:
                    continue
                if inj["method"] not in ("*", method):
                    continue
                if not re.search(inj["path"], path):
                    continue
                if inj["query"] and not re.search(inj["query"], query or ""):
                    continue
                if inj["count"] > 0:
                    inj["count"] -= 1
                return dict(inj)
        return None

    # ---- volumes

    def claim_dir(self, ns, claim):
        return os.path.join(self.run_root, ns, "_pvc", claim)

    def ensure_claim_file(self, ns, claim, size):
        d = self.claim_dir(ns, claim)
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, "disk.img")
        if not os.path.exists(p):
            with open(p, "wb") as f:
                f.truncate(size)
        return p

    def default_storage_class(self, virt=False):
        """The class a claim without one gets: of the classes annotated as the
        default (the GA or the beta annotation "true"), the newest, then the
        lowest name, as the DefaultStorageClass admission plugin picks it.
        virt: CDI's pick for a DataVolume's `storage`, its default
        virtualization class first."""
        keys = [DEFAULT_VIRT_CLASS] if virt else []
        for want in (keys, DEFAULT_CLASS_KEYS):
            found = [sc for sc in self.store.items(R_SC)
                     if any((dig(sc, "metadata", "annotations", default={}) or {}).get(k) == "true"
                            for k in want)]
            if found:
                found.sort(key=lambda sc: sc["metadata"]["name"])
                found.sort(key=lambda sc: sc["metadata"].get("creationTimestamp", ""),
                           reverse=True)
                return found[0]["metadata"]["name"]
        return None

    # ---- events

    def emit_event(self, res, obj, reason, message, etype="Normal", component=None, field=None):
        ns = dig(obj, "metadata", "namespace") or "default"
        component = component or "fakekube"
        ts = now_ts()
        inv = {"kind": res.kind, "namespace": dig(obj, "metadata", "namespace"),
               "name": obj["metadata"]["name"], "uid": obj["metadata"].get("uid"),
               "apiVersion": res.gv, "resourceVersion": obj["metadata"].get("resourceVersion")}
        if not res.namespaced:
            inv.pop("namespace")
        if field:
            inv["fieldPath"] = field
        with self.store.lock:
            for e in self.store.items(R_EVENT, ns):
                if dig(e, "involvedObject", "uid") == inv["uid"] and e.get("reason") == reason \
                        and e.get("message") == message and \
                        dig(e, "involvedObject", "fieldPath") == field:
                    def bump(o):
                        o["count"] = o.get("count", 1) + 1
                        o["lastTimestamp"] = ts
                    self.api.ctl_mutate(R_EVENT, ns, e["metadata"]["name"], bump,
                                        manager=component)
                    return
            ev = {"apiVersion": "v1", "kind": "Event",
                  "metadata": {"name": "%s.%x" % (obj["metadata"]["name"],
                                                  random.getrandbits(60)), "namespace": ns},
                  "involvedObject": inv, "reason": reason, "message": message,
                  "source": {"component": component} if component.endswith("scheduler") or
                  component.endswith("controller") else {"component": component, "host": NODE},
                  "firstTimestamp": ts, "lastTimestamp": ts, "count": 1, "type": etype,
                  "eventTime": None, "reportingComponent": component,
                  "reportingInstance": NODE if component == "kubelet" else "",
                  "_manager": component}
            self.api.ctl_create(R_EVENT, ev)

    # ---- processes

    def register_proc(self, ns, pod, uid, proc):
        # (a pod deleted as its process started: its PodRunner stops it)
        with self.proc_lock:
            self.procs[(ns, pod)] = (uid, proc)

    def unregister_proc(self, ns, pod, proc):
        with self.proc_lock:
            if self.procs.get((ns, pod), (None, None))[1] is proc:
                del self.procs[(ns, pod)]

    def pod_running(self, ns, pod):
        with self.proc_lock:
            return (ns, pod) in self.procs

    def proc_of(self, ns, pod, uid):
        with self.proc_lock:
            ent = self.procs.get((ns, pod))
        return ent[1] if ent is not None and ent[0] == uid else None

    def follow(self, uid):
        with self.proc_lock:
            self.following.add(uid)

    def unfollow(self, uid):
        with self.proc_lock:
            self.following.discard(uid)

    def followed(self, uid):
        with self.proc_lock:
            return uid in self.following

    def kill_pod(self, ns, pod, uid, grace):
        """Stops the process of a pod deleted at once (see stop_proc)."""
        proc = self.proc_of(ns, pod, uid)
        if proc is not None:
            self.stop_proc(proc, grace)

    def stop_proc(self, proc, grace):
        """Stops a container as the kubelet does: SIGTERM to its process
        group, SIGKILL after max(grace, 2) s unless it has exited. A later
        call can only bring the SIGKILL nearer."""
        at = time.time() + max(grace, KUBELET_MIN_GRACE)
        with self.proc_lock:
            if proc.returncode is not None:
                return
            cur = self.kill_at.get(proc)
            if cur is not None:
                self.kill_at[proc] = min(cur, at)
                return
            self.kill_at[proc] = at
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except OSError:
            pass
        threading.Thread(target=self._reap, args=(proc,), daemon=True).start()

    def _reap(self, proc):
        while proc.poll() is None:
            with self.proc_lock:
                at = self.kill_at[proc]
            if time.time() >= at:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                break
            time.sleep(0.05)
        proc.wait()
        with self.proc_lock:
            self.kill_at.pop(proc, None)

    def kill_all(self):
        with self.proc_lock:
            procs = [p for _, p in self.procs.values()]
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass

    # ---- seeding

    def seed(self, path):
        with open(path) as f:
            text = f.read()
        try:
            data = json.loads(text)
        except ValueError:
            data = yaml_load(text)
        items = data if isinstance(data, list) else data.get("items", [data]) \
            if isinstance(data, dict) and data.get("kind", "").endswith("List") else [data]
        for o in items:
            g, _, v = (o.get("apiVersion") or "").rpartition("/")
            res = BY_KIND.get((g, o.get("kind")))
            if res is None:
                sys.exit("fakekube: --seed %s: unknown kind %s %s" % (path, o.get("apiVersion"),
                                                                       o.get("kind")))
            try:
                self.api.create(res, dig(o, "metadata", "namespace"), o,
                                {"fieldManager": "fakekube-seed"})
            except ApiError as e:
                sys.exit("fakekube: --seed %s: %s" % (path, e.message))

    def write_kubeconfig(self, path, url):
        a = self.args
        lines = ["apiVersion: v1", "kind: Config", "clusters:", "- name: fakekube",
                 "  cluster:", "    server: %s" % url]
        if a.cert:
            lines.append("    certificate-authority-data: %s"
                         % base64.b64encode(self.ca_pem.encode()).decode())
        lines += ["contexts:", "- name: fakekube", "  context:", "    cluster: fakekube",
                  "    user: fakekube", "    namespace: %s" % a.kubeconfig_namespace,
                  "current-context: fakekube", "preferences: {}", "users:", "- name: fakekube",
                  "  user:"]
        user = []
        if a.token and not a.kubeconfig_client_cert:
            user.append("    token: %s" % a.token)
        if a.kubeconfig_client_cert:
            for fl, key in ((a.kubeconfig_client_cert, "client-certificate-data"),
                            (a.kubeconfig_client_key, "client-key-data")):
                with open(fl, "rb") as f:
                    user.append("    %s: %s" % (key, base64.b64encode(f.read()).decode()))
        lines += user or ["    {}"]
        if not user:
            lines[-2] = "  user: {}"
            lines.pop()
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)


def parse_inject(spec):
    """'METHOD PATHREGEX CODE [COUNT [RETRY_AFTER]]'"""
    parts = spec.split()
    if len(parts) < 3:
        raise argparse.ArgumentTypeError("--inject 'METHOD PATHREGEX CODE [COUNT [RETRY_AFTER]]'")
    d = {"method": parts[0], "path": parts[1], "code": int(parts[2])}
    if len(parts) > 3:
        d["count"] = int(parts[3])
    if len(parts) > 4:
        d["retryAfter"] = int(parts[4])
    return d


def main(argv=None):
    ap = argparse.ArgumentParser(description="A fake Kubernetes API server for ferry's tests "
                                             "(tests/kube/README.md).")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert", help="server certificate (PEM); with --key serves HTTPS")
    ap.add_argument("--key", help="server private key (PEM)")
    ap.add_argument("--http", action="store_true", help="serve plain HTTP (no --cert/--key)")
    ap.add_argument("--token", default="fakekube-token",
                    help="the bearer token accepted (default: fakekube-token)")
    ap.add_argument("--no-token", dest="token", action="store_const", const="",
                    help="accept no bearer token (client certificates only)")
    ap.add_argument("--client-ca", help="accept client certificates signed by this CA (mTLS)")
    ap.add_argument("--require-client-cert", action="store_true",
                    help="with --client-ca: refuse TLS connections without a client certificate")
    ap.add_argument("--no-anonymous", dest="anonymous", action="store_false",
                    help="401 also for unauthenticated /version, /healthz, /livez, /readyz")
    ap.add_argument("--kubeconfig-out", help="write a kubeconfig for this server here")
    ap.add_argument("--kubeconfig-client-cert", help="client certificate for the kubeconfig's user")
    ap.add_argument("--kubeconfig-client-key", help="client key for the kubeconfig's user")
    ap.add_argument("--kubeconfig-namespace", default="default")
    ap.add_argument("--log", help="append one JSON line per request to this file")
    ap.add_argument("--run-root", help="where Job pods run and claims keep their data "
                                       "(default: a new temporary directory)")
    ap.add_argument("--server-version", default="v1.31.0",
                    help="gitVersion for /version (kubectl's dispatcher picks its client by it)")
    ap.add_argument("--history", type=int, default=1000,
                    help="watch events kept; older resourceVersions are Expired (410)")
    ap.add_argument("--watch-timeout", type=float, default=1800.0,
                    help="seconds a watch without timeoutSeconds stays open")
    ap.add_argument("--watch-expired-http", action="store_true",
                    help="answer a watch from a too-old resourceVersion with HTTP 410 instead "
                         "of the apiserver's 200 + ERROR event")
    ap.add_argument("--job-backoff", type=float, default=1.0,
                    help="seconds before a failed Job pod is replaced (doubling; real: 10 s)")
    ap.add_argument("--namespace", action="append", default=[],
                    help="extra namespace to create at start (repeatable)")
    ap.add_argument("--seed", action="append", default=[],
                    help="JSON/YAML file of objects (object, List or array) to create at start")
    ap.add_argument("--inject", action="append", default=[], type=parse_inject,
                    help="'METHOD PATHREGEX CODE [COUNT [RETRY_AFTER]]' (repeatable); "
                         "see also POST /_fake/inject")
    ap.add_argument("--debug", action="store_true", help="log to stderr")
    args = ap.parse_args(argv)
    if not args.http and not (args.cert and args.key):
        ap.error("give --cert and --key, or --http")
    if args.http and (args.client_ca or args.require_client_cert):
        ap.error("--client-ca needs HTTPS")
    if not args.token and not args.client_ca:
        ap.error("--no-token needs --client-ca")
    if not args.run_root:
        import tempfile
        args.run_root = tempfile.mkdtemp(prefix="fakekube-run.")
    fake = Fake(args)
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] + args.namespace:
        fake.api.create(R_NS, None, {"metadata": {"name": ns}}, {"fieldManager": "fakekube"})
    for s in args.seed:
        fake.seed(s)
    for inj in args.inject:
        fake.add_injection(inj)
    ctx = None
    if not args.http:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        ctx.set_alpn_protocols(["http/1.1"])
        if args.client_ca:
            ctx.load_verify_locations(args.client_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED if args.require_client_cert else ssl.CERT_OPTIONAL
    srv = Server((args.host, args.port), fake, ctx)
    fake.port = srv.server_address[1]
    host = args.host if ":" not in args.host else "[%s]" % args.host
    url = "%s://%s:%d" % ("http" if args.http else "https", host, fake.port)

    def bye(signum, frame):
        fake.kill_all()
        if fake.logf:
            fake.logf.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, bye)
    signal.signal(signal.SIGINT, bye)
    signal.signal(signal.SIGHUP, bye)
    if args.kubeconfig_out:
        fake.write_kubeconfig(args.kubeconfig_out, url)
    sys.stderr.write("fakekube: run root %s\n" % fake.run_root)
    sys.stdout.write("FAKEKUBE_URL=%s\n" % url)
    sys.stdout.flush()
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        fake.kill_all()


if __name__ == "__main__":
    main()
