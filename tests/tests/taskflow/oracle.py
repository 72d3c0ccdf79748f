# Builds the flow described by a JSON spec (stdin) with recording tasks, runs it with Python TaskFlow and
# prints what happened: the ordered log of execute/revert/retry calls, atom and flow transitions, final
# states and the error raised.
import json
import sys
import warnings

warnings.simplefilter('ignore')

from taskflow import engines, retry, states, task
from taskflow.patterns import graph_flow, linear_flow, unordered_flow
from taskflow.persistence import backends, models
from taskflow.types import failure as tf_failure

SPEC = json.load(sys.stdin)
LOG = []
COUNTS = {}
ENGINE = {}
DEFAULT = object()


def fail_repr(f):
    return {"failure": "%s: %s" % (f._exc_type_names[0].rsplit(".", 1)[-1], f.exception_str)}


def make_task(t):
    name = t["task"]
    req = list(t.get("requires", []))
    opt = list(t.get("optional", []))
    params = ", ".join(["self"] + req + ["%s=DEFAULT" % o for o in opt])
    body = "def execute(%s):\n    return _run(locals())\n" % params
    ns = {"DEFAULT": DEFAULT}

    def _run(loc):
        args = {k: v for k, v in loc.items() if k != "self" and v is not DEFAULT}
        COUNTS[name] = COUNTS.get(name, 0) + 1
        LOG.append({"atom": name, "op": "execute", "args": args})
        if t.get("suspend"):
            ENGINE["e"].suspend()
        if COUNTS[name] <= t.get("fail_times", 0) or t.get("fail_on_arg") in args.values():
            raise RuntimeError("%s failed" % name)
        if "returns" in t:
            return t["returns"]
        if "returns_arg" in t:
            return args[t["returns_arg"]]
        return name

    ns["_run"] = _run
    ns["_revert"] = lambda loc: _revert(loc)
    exec(body, ns)

    if "revert_requires" in t:
        rparams = "self, result, flow_failures, **kw"
    else:
        rparams = ", ".join(["self"] + req + ["%s=DEFAULT" % o for o in opt] + ["result=None", "flow_failures=None"])
    exec("def revert(%s):\n    return _revert(locals())\n" % rparams, ns)

    def _revert(loc):
        kw = dict(loc.pop("kw", {}))
        kw.update({k: v for k, v in loc.items() if k not in ("self", "kw") and v is not DEFAULT})
        result = kw.pop("result")
        ff = kw.pop("flow_failures")
        LOG.append({
            "atom": name, "op": "revert", "args": kw,
            "result": fail_repr(result) if isinstance(result, tf_failure.Failure) else result,
            "flow_failures": sorted(ff.keys()),
        })
        if t.get("revert_fail"):
            raise ValueError("%s revert failed" % name)

    cls = type("T_" + name, (task.Task,), {"execute": ns["execute"], "revert": ns["revert"]})
    kwargs = {}
    p = t.get("provides")
    if isinstance(p, str):
        kwargs["provides"] = p
    elif isinstance(p, dict) and "tuple" in p:
        kwargs["provides"] = tuple(p["tuple"])
    elif isinstance(p, dict) and "keys" in p:
        kwargs["provides"] = set(p["keys"])
    if "rebind" in t:
        kwargs["rebind"] = t["rebind"]
    if "inject" in t:
        kwargs["inject"] = t["inject"]
    if "revert_requires" in t:
        kwargs["revert_requires"] = t["revert_requires"]
    inst = cls(name=name, **kwargs)
    if "priority" in t:
        inst.priority = t["priority"]
    return inst


def make_retry(r):
    kind = r["kind"]
    base = {
        "times": retry.Times, "foreach": retry.ForEach, "pforeach": retry.ParameterizedForEach,
        "always_revert": retry.AlwaysRevert, "always_revert_all": retry.AlwaysRevertAll,
    }[kind]
    name = r["name"]

    def execute(self, history, *a, **kw):
        v = base.execute(self, *a, history=history, **kw)
        LOG.append({"atom": name, "op": "execute", "history": len(history), "value": v})
        return v

    def on_failure(self, history, *a, **kw):
        d = base.on_failure(self, *a, history=history, **kw)
        LOG.append({"atom": name, "op": "on_failure", "history": len(history), "decision": d.name})
        return d

    def revert(self, history, *a, **kw):
        LOG.append({"atom": name, "op": "revert", "history": len(history)})

    cls = type("R_" + name, (base,), {"execute": execute, "on_failure": on_failure, "revert": revert})
    kwargs = {"name": name}
    if "provides" in r:
        kwargs["provides"] = r["provides"]
    if "rebind" in r:
        kwargs["rebind"] = r["rebind"]
    if kind == "times":
        kwargs["attempts"] = r.get("attempts", 1)
    if kind == "foreach":
        kwargs["values"] = r["values"]
    if kind in ("times", "foreach", "pforeach"):
        kwargs["revert_all"] = r.get("revert_all", False)
    return cls(**kwargs)


def make_flow(f):
    mod = {"linear": linear_flow, "unordered": unordered_flow, "graph": graph_flow}[f["type"]]
    r = make_retry(f["retry"]) if "retry" in f else None
    flow = mod.Flow(f["name"], retry=r)
    by_name = {}
    for item in f["items"]:
        obj = make_flow(item) if "items" in item else make_task(item)
        by_name[obj.name] = obj
        flow.add(obj)
    for u, v in f.get("links", []):
        flow.link(by_name[u], by_name[v])
    for d in f.get("deciders", []):
        want = d["when"]
        src = d["from"]
        flow.link(by_name[src], by_name[d["to"]], decider=(lambda history, src=src, want=want: history.get(src) == want),
                  decider_depth=d.get("depth", "ALL"))
    return flow


def run_engine(fd=None, backend=None):
    flow = make_flow(SPEC["flow"])
    opts = dict(SPEC.get("options", {}))
    eng = engines.load(flow, store=SPEC.get("store", {}), engine=SPEC.get("engine", "serial"),
                       flow_detail=fd, backend=backend, **opts)
    ENGINE["e"] = eng
    trans = []

    def on_atom(state, details):
        n = details.get("task_name") or details.get("retry_name")
        trans.append([n, details["old_state"], state])

    def on_flow(state, details):
        trans.append(["<flow>", details["old_state"], state])

    eng.atom_notifier.register("*", on_atom)
    eng.notifier.register("*", on_flow)
    err = None
    iter_states = []
    try:
        if SPEC.get("iter"):
            for st in eng.run_iter():
                iter_states.append(st)
        else:
            eng.run()
    except Exception as e:
        err = {"type": type(e).__name__, "message": str(e)}
        if type(e).__name__ == "WrappedFailure":
            err["count"] = len(e)
    atoms = {}
    for ad in eng.storage._flowdetail:
        atoms[ad.name] = ad.state
    return eng, {"transitions": trans, "error": err, "iter": iter_states, "flow_state": eng.storage.get_flow_state(), "atoms": atoms}


def run_spec(spec):
    global SPEC
    SPEC = spec
    LOG.clear()
    COUNTS.clear()
    ENGINE.clear()
    backend = backends.fetch({"connection": "memory"})
    book = models.LogBook("book")
    fd = models.FlowDetail("flow", uuid="fd-1")
    book.add(fd)
    backend.get_connection().save_logbook(book)
    eng, first = run_engine(fd, backend)
    out = {"runs": [first]}
    if SPEC.get("resume") and first["flow_state"] == states.SUSPENDED:
        fd2 = backend.get_connection().get_flow_details("fd-1")
        ENGINE.clear()
        _, second = run_engine(fd2, backend)
        out["runs"].append(second)
    out["log"] = list(LOG)
    return out


# One spec, or a list of specs run one after another in this process.
if isinstance(SPEC, list):
    print(json.dumps([run_spec(s) for s in SPEC], default=str))
else:
    print(json.dumps(run_spec(SPEC), default=str))
