import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IInfo, IJob, ModelOpsClient } from './api';
import {
  ago,
  chartPaths,
  checkInteger,
  formatNumber,
  keyMetrics,
  liveDeployments,
  readGate,
  readMetric,
  reportVerdict,
  showValue,
  sparkline,
  templateParamValue,
  toYaml,
  Verdict,
  VERDICT_COLOURS
} from './format';
import { ApiError } from './request';

type Dict = Record<string, any>;

/** How often the panel asks whether the registry changed (one tiny request). */
const REVISION_POLL_MS = 2500;
/** Every this many polls, re-read live state (running model servers) even if the registry did not change. */
const LIVE_EVERY_TICKS = 4;

function message(error: unknown): string {
  if (error instanceof ApiError) {
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

function asList(x: unknown): Dict[] {
  if (Array.isArray(x)) {
    return x as Dict[];
  }
  if (x && typeof x === 'object') {
    const d = x as Dict;
    for (const key of [
      'items',
      'models',
      'versions',
      'records',
      'deployments',
      'runs',
      'profiles',
      'clusters',
      'schedules'
    ]) {
      if (Array.isArray(d[key])) {
        return d[key];
      }
    }
  }
  return [];
}

function aliasesOf(x: Dict): string[] {
  const a = x.aliases;
  if (Array.isArray(a)) {
    return a.map(String);
  }
  if (a && typeof a === 'object') {
    return Object.keys(a);
  }
  return [];
}

// ----------------------------------------------------------------- small parts

function Badges(props: { badges: unknown }): JSX.Element | null {
  let names: string[] = [];
  const b = props.badges;
  if (Array.isArray(b)) {
    names = b.map(String);
  } else if (b && typeof b === 'object') {
    names = Object.entries(b as Dict)
      .filter(([, v]) => Boolean(v))
      .map(([k]) => k);
  }
  if (names.length === 0) {
    return null;
  }
  return (
    <span className="jp-ModelOps-badges">
      {names.map(n => (
        <span key={n} className={`jp-ModelOps-badge jp-ModelOps-badge-${n}`} data-testid={`jmo-badge-${n}`}>
          {n}
        </span>
      ))}
    </span>
  );
}

function Aliases(props: { aliases: string[] }): JSX.Element | null {
  if (props.aliases.length === 0) {
    return null;
  }
  return (
    <span className="jp-ModelOps-aliases">
      {props.aliases.map(a => (
        <span key={a} className="jp-ModelOps-alias">
          @{a}
        </span>
      ))}
    </span>
  );
}

function ErrorLine(props: { error: string | null; testid?: string }): JSX.Element | null {
  if (!props.error) {
    return null;
  }
  return (
    <div className="jp-ModelOps-error" role="alert" data-testid={props.testid ?? 'jmo-error'}>
      {props.error}
    </div>
  );
}

function Section(props: { title: string; testid?: string; children: React.ReactNode }): JSX.Element {
  return (
    <section className="jp-ModelOps-section" data-testid={props.testid}>
      <h3>{props.title}</h3>
      {props.children}
    </section>
  );
}

/** A section folded by default (long tables: environment, lineage); <details> is keyboard accessible. */
function Folded(props: { title: string; testid?: string; children: React.ReactNode }): JSX.Element {
  return (
    <details className="jp-ModelOps-section jp-ModelOps-folded" data-testid={props.testid}>
      <summary>{props.title}</summary>
      {props.children}
    </details>
  );
}

/** A readable one-line rendering of a nested value: {a: 1, b: {c: 2}} -> "a 1, b.c 2". */
function show(v: unknown): string {
  return showValue(v);
}

/** A snake_case name that a narrow panel may wrap after its underscores (never inside a word). */
function breakable(name: string): React.ReactNode {
  return name.split('_').map((part, i) => (
    <React.Fragment key={i}>
      {i > 0 && '_'}
      {i > 0 && <wbr />}
      {part}
    </React.Fragment>
  ));
}

/** A verdict word in the colours of the HTML reports (green pass, red fail, amber warn). */
function VerdictText(props: { verdict: Verdict; children: React.ReactNode; testid?: string }): JSX.Element {
  return (
    <span
      className={`jp-ModelOps-verdict jp-ModelOps-verdict-${props.verdict}`}
      style={{ color: VERDICT_COLOURS[props.verdict] }}
      data-verdict={props.verdict}
      data-testid={props.testid}
    >
      {props.children}
    </span>
  );
}

/** A metric as "value [low, high]", each part unbreakable, so a narrow panel wraps between them. */
function MetricValue(props: { raw: unknown }): JSX.Element {
  const m = readMetric(props.raw);
  return (
    <>
      <span className="jp-ModelOps-nowrap">{formatNumber(m.value)}</span>
      {m.low !== null && m.high !== null && (
        <>
          {' '}
          <span className="jp-ModelOps-nowrap jp-ModelOps-ci">
            [{formatNumber(m.low)}, {formatNumber(m.high)}]
          </span>
        </>
      )}
    </>
  );
}

/** The gates of a report run: verdict, rule, observed value and its interval. */
function Gates(props: { gates: unknown; testid?: string }): JSX.Element | null {
  const gates = Array.isArray(props.gates) ? props.gates.map(readGate) : [];
  if (gates.length === 0) {
    return null;
  }
  return (
    <ul className="jp-ModelOps-gates" data-testid={props.testid ?? 'jmo-gates'}>
      {gates.map((g, i) => (
        <li key={i} data-testid="jmo-gate" data-verdict={g.verdict}>
          <VerdictText verdict={g.verdict}>
            {g.verdict === 'pass' ? '✔ pass' : g.verdict === 'fail' ? '✘ fail' : '! warn'}
          </VerdictText>{' '}
          <span className="jp-ModelOps-nowrap">{g.rule}</span>{' '}
          <span className="jp-ModelOps-muted">
            observed <span className="jp-ModelOps-nowrap">{g.observed}</span>
            {g.interval && (
              <>
                {' '}
                <span className="jp-ModelOps-nowrap">{g.interval}</span>
              </>
            )}
          </span>
        </li>
      ))}
    </ul>
  );
}

function lineageOf(d: Dict): Dict {
  const out: Dict = {};
  if (d.parent) {
    out.parent = d.parent;
  }
  if (d.origin?.kind) {
    out.origin = d.origin.kind;
  }
  if (d.git?.commit) {
    out.git = `${String(d.git.commit).slice(0, 12)}${d.git.dirty ? ' (dirty)' : ''}`;
  }
  if (d.notebook) {
    out.notebook = d.notebook;
  }
  if (d.data?.sha256) {
    out.data = `${String(d.data.sha256).slice(0, 12)}… shape ${JSON.stringify(d.data.shape ?? '')}`;
  }
  if (d.user) {
    out.by = d.user;
  }
  if (d.created) {
    out.created = d.created;
  }
  return out;
}

function KeyValues(props: { data: Dict | undefined; testid?: string }): JSX.Element {
  const entries = Object.entries(props.data ?? {});
  if (entries.length === 0) {
    return <div className="jp-ModelOps-muted">none recorded</div>;
  }
  return (
    <table className="jp-ModelOps-table" data-testid={props.testid}>
      <tbody>
        {entries.map(([k, v]) => (
          <tr key={k}>
            <th>{k}</th>
            <td>{show(v)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Sparkline(props: { values: number[]; label: string }): JSX.Element | null {
  if (props.values.length < 1) {
    return null;
  }
  const points = sparkline(props.values);
  const last = points ? points.split(' ').pop()!.split(',').map(Number) : null;
  return (
    <svg
      className="jp-ModelOps-sparkline"
      width={120}
      height={24}
      role="img"
      aria-label={`${props.label} trend over ${props.values.length} reports`}
      data-testid="jmo-sparkline"
    >
      <polyline fill="none" strokeWidth={1.5} points={points} />
      {last && <circle cx={last[0]} cy={last[1]} r={2.5} />}
    </svg>
  );
}

// ----------------------------------------------------------------- jobs

/** A job's status, progress, logs and result or error, shown inline under the form that started it. */
function JobView(props: { job: IJob; render?: (result: any) => React.ReactNode }): JSX.Element {
  const { job } = props;
  const [showLogs, setShowLogs] = React.useState(false);
  // a report job that ran is not a success when a gate failed: say so, in the report's colours
  const report = job.action === 'report' && job.status === 'succeeded' ? reportVerdict(job.result) : null;
  const verdict: Verdict = report
    ? report.verdict
    : job.status === 'succeeded'
      ? 'pass'
      : job.status === 'failed'
        ? 'fail'
        : 'warn';
  return (
    <div className={`jp-ModelOps-job jp-ModelOps-job-${job.status}`} data-testid="jmo-job" aria-live="polite">
      <div className="jp-ModelOps-job-head">
        <span
          data-testid="jmo-job-status"
          data-status={job.status}
          data-verdict={verdict}
          style={{ color: VERDICT_COLOURS[verdict] }}
        >
          {job.action}: {report ? report.label : job.status}
        </span>
        {job.elapsed !== null && <span className="jp-ModelOps-muted"> {job.elapsed.toFixed(1)} s</span>}
        <button className="jp-ModelOps-link" onClick={() => setShowLogs(!showLogs)} aria-expanded={showLogs}>
          {showLogs ? 'hide log' : 'log'}
        </button>
      </div>
      {/* the core reports no fractions: indeterminate while queued or running, full when done */}
      <progress
        max={1}
        value={job.status === 'queued' || job.status === 'running' ? undefined : job.progress}
        aria-label={`${job.action} ${job.status}`}
      />
      {job.error && <ErrorLine error={job.error.message} testid="jmo-job-error" />}
      {job.status === 'succeeded' && props.render && <div data-testid="jmo-job-result">{props.render(job.result)}</div>}
      {showLogs && <pre className="jp-ModelOps-logs">{job.logs.join('\n')}</pre>}
    </div>
  );
}

/** Start a job and follow it; returns [job, start, error]. */
function useJob(client: ModelOpsClient, onDone?: (job: IJob) => void) {
  const [job, setJob] = React.useState<IJob | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const alive = React.useRef(true);
  React.useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
    };
  }, []);
  const start = React.useCallback(
    async (action: string, params: Dict) => {
      setError(null);
      setJob(null);
      try {
        const first = await client.startJob(action, params);
        setJob(first);
        const last = await client.waitJob(first.id, setJob, () => !alive.current);
        if (alive.current && onDone) {
          onDone(last);
        }
      } catch (e) {
        if (alive.current) {
          setError(message(e));
        }
      }
    },
    [client, onDone]
  );
  return { job, error, start, setError };
}

// ----------------------------------------------------------------- action forms

interface IFormProps {
  client: ModelOpsClient;
  ref_: string;
  version: Dict;
  onChanged: () => void;
}

function Field(props: { label: string; children: React.ReactNode }): JSX.Element {
  return (
    <label className="jp-ModelOps-field">
      <span>{props.label}</span>
      {props.children}
    </label>
  );
}

function Submit(props: { label: string; busy: boolean; testid: string }): JSX.Element {
  return (
    <button type="submit" className="jp-mod-styled jp-mod-accept" disabled={props.busy} data-testid={props.testid}>
      {props.label}
    </button>
  );
}

function busy(job: IJob | null): boolean {
  return job !== null && (job.status === 'queued' || job.status === 'running');
}

function ExportForm(props: IFormProps): JSX.Element {
  const [format, setFormat] = React.useState('onnx');
  const [quantize, setQuantize] = React.useState('');
  const { job, error, start } = useJob(props.client, props.onChanged);
  return (
    <form
      className="jp-ModelOps-form"
      data-testid="jmo-form-export"
      onSubmit={e => {
        e.preventDefault();
        void start('export', { model_or_ref: props.ref_, format, ...(quantize ? { quantize } : {}) });
      }}
    >
      <Field label="Format">
        <select
          className="jp-mod-styled"
          value={format}
          onChange={e => setFormat(e.target.value)}
          data-testid="jmo-export-format"
        >
          <option value="onnx">ONNX</option>
          <option value="torchscript">TorchScript</option>
        </select>
      </Field>
      <Field label="Quantization">
        <select
          className="jp-mod-styled"
          value={quantize}
          onChange={e => setQuantize(e.target.value)}
          data-testid="jmo-export-quantize"
        >
          <option value="">none</option>
          <option value="int8">int8 (dynamic)</option>
          <option value="fp16">fp16</option>
        </select>
      </Field>
      <Submit label="Export" busy={busy(job)} testid="jmo-export-submit" />
      <ErrorLine error={error} testid="jmo-form-error" />
      {job && (
        <JobView
          job={job}
          render={r => <KeyValues data={pick(r, ['format', 'exporter', 'ref', 'passed'])} testid="jmo-export-result" />}
        />
      )}
    </form>
  );
}

/** Log this version to an MLflow tracking server (the `mlflow push` verb): run id and registered model version. */
function MlflowForm(props: IFormProps): JSX.Element {
  const [uri, setUri] = React.useState('');
  const [experiment, setExperiment] = React.useState('');
  const [registered, setRegistered] = React.useState('');
  const { job, error, start } = useJob(props.client, props.onChanged);
  return (
    <form
      className="jp-ModelOps-form"
      data-testid="jmo-form-mlflow"
      onSubmit={e => {
        e.preventDefault();
        const params: Dict = { action: 'push', target: props.ref_ };
        if (uri.trim()) {
          params.tracking_uri = uri.trim();
        }
        if (experiment.trim()) {
          params.experiment = experiment.trim();
        }
        if (registered.trim()) {
          params.registered_model = registered.trim();
        }
        void start('mlflow', params);
      }}
    >
      <Field label="Tracking URI">
        <input
          className="jp-mod-styled"
          value={uri}
          onChange={e => setUri(e.target.value)}
          placeholder="MLFLOW_TRACKING_URI"
          data-testid="jmo-mlflow-uri"
        />
      </Field>
      <Field label="Experiment">
        <input
          className="jp-mod-styled"
          value={experiment}
          onChange={e => setExperiment(e.target.value)}
          placeholder="modelops/<model>"
          data-testid="jmo-mlflow-experiment"
        />
      </Field>
      <Field label="Registered model">
        <input
          className="jp-mod-styled"
          value={registered}
          onChange={e => setRegistered(e.target.value)}
          placeholder="the model's name"
          data-testid="jmo-mlflow-registered"
        />
      </Field>
      <Submit label="Log to MLflow" busy={busy(job)} testid="jmo-mlflow-submit" />
      <ErrorLine error={error} testid="jmo-form-error" />
      {job && (
        <JobView
          job={job}
          render={r => (
            <KeyValues
              data={pick(r, ['run_id', 'registered_model', 'model_version', 'experiment_id', 'model_uri'])}
              testid="jmo-mlflow-result"
            />
          )}
        />
      )}
    </form>
  );
}

function pick(d: Dict | null | undefined, keys: string[]): Dict {
  const out: Dict = {};
  if (!d || typeof d !== 'object') {
    return out;
  }
  for (const k of keys) {
    if (d[k] !== undefined && d[k] !== null) {
      out[k] = d[k];
    }
  }
  return Object.keys(out).length > 0 ? out : d;
}

function BuildForm(props: IFormProps): JSX.Element {
  const [registry, setRegistry] = React.useState('');
  const [base, setBase] = React.useState('');
  const build = useJob(props.client, props.onChanged);
  return (
    <form
      className="jp-ModelOps-form"
      data-testid="jmo-form-build"
      onSubmit={e => {
        e.preventDefault();
        const target = registry.trim();
        void build.start('build', {
          ref: props.ref_,
          ...(base.trim() ? { base: base.trim() } : {}),
          ...(target ? { push: target } : {})
        });
      }}
    >
      <Field label="Base image (empty: the default Python base)">
        <input
          className="jp-mod-styled"
          value={base}
          placeholder="python:3.11-slim-bookworm, an OCI layout directory, or scratch"
          onChange={e => setBase(e.target.value)}
          data-testid="jmo-build-base"
        />
      </Field>
      <Field label="Push to (optional: registry/repository:tag)">
        <input
          className="jp-mod-styled"
          value={registry}
          placeholder="127.0.0.1:5000/models/churn:3"
          onChange={e => setRegistry(e.target.value)}
          data-testid="jmo-push-target"
        />
      </Field>
      <Submit
        label={registry.trim() ? 'Build and push' : 'Build image'}
        busy={busy(build.job)}
        testid="jmo-build-submit"
      />
      <ErrorLine error={build.error} testid="jmo-form-error" />
      {build.job && (
        <JobView
          job={build.job}
          render={r => (
            <KeyValues data={pick(r, ['tag', 'digest', 'size', 'location', 'pushed'])} testid="jmo-build-result" />
          )}
        />
      )}
    </form>
  );
}

function DeployForm(props: IFormProps): JSX.Element {
  const [clusters, setClusters] = React.useState<Dict[]>([]);
  const [profiles, setProfiles] = React.useState<Dict[]>([]);
  const [cluster, setCluster] = React.useState('local');
  const [profile, setProfile] = React.useState('');
  // empty: the profile's replicas, as in the notebook's deploy form and on the command line
  const [replicas, setReplicas] = React.useState('');
  const [canary, setCanary] = React.useState('0');
  const [image, setImage] = React.useState('');
  const [loadError, setLoadError] = React.useState<string | null>(null);
  const [formError, setFormError] = React.useState<string | null>(null);
  const preview = useJob(props.client);
  const deploy = useJob(props.client, props.onChanged);

  React.useEffect(() => {
    Promise.all([
      props.client.get<unknown>('clusters'),
      props.client.get<unknown>('profiles'),
      props.client.get<Dict>('verbs/deploy').catch(() => ({}) as Dict)
    ])
      .then(([c, p, verb]) => {
        const cl = asList(c);
        const pr = asList(p);
        setClusters(cl);
        setProfiles(pr);
        // the deploy verb's declared default profile, as the notebook's form and the command line use
        const declared = asList(verb.params).find(x => x.name === 'profile')?.default;
        const initial = pr.find(x => x.name === declared) ?? pr[0];
        if (initial && !profile) {
          setProfile(String(initial.name));
        }
      })
      .catch(e => setLoadError(message(e)));
  }, [props.client]);

  const params = (dryRun: boolean): Dict | null => {
    const r = replicas.trim() === '' ? {} : checkInteger(replicas, 'Replicas', 1, 100);
    const c = checkInteger(canary, 'Canary %', 0, 100);
    const problem = r.error ?? c.error ?? null;
    setFormError(problem);
    if (problem) {
      return null;
    }
    if (cluster === 'local' && !dryRun) {
      return { ref: props.ref_, target: 'local' };
    }
    // a dry run needs no kubeconfig: with 'local' picked it renders for the current context, as
    // `%modelops deploy REF --dry-run` does
    const out: Dict = { ref: props.ref_ };
    if (cluster !== 'local') {
      out.cluster = cluster;
    }
    if (r.value !== undefined) {
      out.replicas = r.value;
    }
    if (image.trim()) {
      out.image = image.trim();
    }
    if (profile) {
      out.profile = profile;
    }
    if (c.value) {
      out.canary = c.value;
    }
    if (dryRun) {
      out.dry_run = true;
    }
    return out;
  };

  return (
    <form
      className="jp-ModelOps-form"
      data-testid="jmo-form-deploy"
      onSubmit={e => {
        e.preventDefault();
        const p = params(false);
        if (p) {
          void deploy.start('deploy', p);
        }
      }}
    >
      <ErrorLine error={loadError} />
      <Field label="Cluster">
        <select
          className="jp-mod-styled"
          value={cluster}
          onChange={e => setCluster(e.target.value)}
          data-testid="jmo-deploy-cluster"
        >
          <option value="local">local (model server on this machine)</option>
          {clusters.map(c => (
            <option key={String(c.name)} value={String(c.name)}>
              {String(c.name)}
              {c.current ? ' (current)' : ''}
            </option>
          ))}
        </select>
      </Field>
      <Field label={cluster === 'local' ? 'Hardware profile (Kubernetes only)' : 'Hardware profile'}>
        <select
          className="jp-mod-styled"
          value={profile}
          onChange={e => setProfile(e.target.value)}
          data-testid="jmo-deploy-profile"
        >
          {profiles.map(p => (
            <option key={String(p.name)} value={String(p.name)} title={p.description ?? ''}>
              {String(p.name)}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Replicas">
        <input
          className="jp-mod-styled"
          inputMode="numeric"
          value={replicas}
          placeholder={`profile's (${String(profiles.find(p => p.name === profile)?.replicas ?? 1)})`}
          onChange={e => setReplicas(e.target.value)}
          data-testid="jmo-deploy-replicas"
        />
      </Field>
      <Field label="Image (Kubernetes; empty: the version's recorded image)">
        <input
          className="jp-mod-styled"
          value={image}
          placeholder="registry/repo@sha256:…"
          onChange={e => setImage(e.target.value)}
          data-testid="jmo-deploy-image"
        />
      </Field>
      <Field label="Canary %">
        <input
          className="jp-mod-styled"
          inputMode="numeric"
          value={canary}
          onChange={e => setCanary(e.target.value)}
          data-testid="jmo-deploy-canary"
        />
      </Field>
      <div className="jp-ModelOps-buttons">
        <button
          type="button"
          className="jp-mod-styled"
          disabled={busy(preview.job)}
          title="Render the Kubernetes manifests without applying them (no kubeconfig needed)"
          onClick={() => {
            const p = params(true);
            if (p) {
              void preview.start('deploy', p);
            }
          }}
          data-testid="jmo-deploy-preview"
        >
          Preview YAML
        </button>
        <Submit label="Deploy" busy={busy(deploy.job)} testid="jmo-deploy-submit" />
      </div>
      <ErrorLine error={formError ?? deploy.error ?? preview.error} testid="jmo-form-error" />
      {preview.job && (
        <JobView
          job={preview.job}
          render={r => (
            <pre className="jp-ModelOps-yaml" data-testid="jmo-deploy-yaml">
              {toYaml(asList(r?.manifests ?? asList(r?.deployments).flatMap(d => asList(d.manifests))))}
            </pre>
          )}
        />
      )}
      {deploy.job && (
        <JobView
          job={deploy.job}
          render={r => (
            <KeyValues
              data={pick(r, ['name', 'target', 'status', 'url', 'pid', 'replicas'])}
              testid="jmo-deploy-result"
            />
          )}
        />
      )}
    </form>
  );
}

function DeploymentActions(props: IFormProps & { deployments: Dict[] }): JSX.Element {
  const kube = props.deployments.filter(d => d.target !== 'local');
  const names = kube.map(d => String(d.name));
  const clusterOf = (n: string) => String(kube.find(d => String(d.name) === n)?.cluster ?? '') || undefined;
  const [name, setName] = React.useState(names[0] ?? '');
  const promote = useJob(props.client, props.onChanged);
  const rollback = useJob(props.client, props.onChanged);
  React.useEffect(() => {
    if (!name && names.length > 0) {
      setName(names[0]);
    }
  }, [names.join(',')]);
  if (names.length === 0) {
    return (
      <div className="jp-ModelOps-muted">
        Deploy this version to a Kubernetes cluster first; then promote its canary or roll it back here.
      </div>
    );
  }
  return (
    <div className="jp-ModelOps-form" data-testid="jmo-form-rollout">
      <Field label="Deployment">
        <select
          className="jp-mod-styled"
          value={name}
          onChange={e => setName(e.target.value)}
          data-testid="jmo-rollout-name"
        >
          {names.map(n => (
            <option key={n}>{n}</option>
          ))}
        </select>
      </Field>
      <div className="jp-ModelOps-buttons">
        <button
          className="jp-mod-styled"
          disabled={busy(promote.job)}
          onClick={() => void promote.start('promote', { name, cluster: clusterOf(name) })}
          data-testid="jmo-promote-submit"
        >
          Promote canary
        </button>
        <button
          className="jp-mod-styled jp-mod-warn"
          disabled={busy(rollback.job)}
          onClick={() => void rollback.start('rollback', { name, cluster: clusterOf(name) })}
          data-testid="jmo-rollback-submit"
        >
          Roll back
        </button>
      </div>
      <ErrorLine error={promote.error ?? rollback.error} testid="jmo-form-error" />
      {promote.job && (
        <JobView job={promote.job} render={r => <KeyValues data={pick(r, ['name', 'status', 'version'])} />} />
      )}
      {rollback.job && (
        <JobView job={rollback.job} render={r => <KeyValues data={pick(r, ['name', 'status', 'version'])} />} />
      )}
    </div>
  );
}

/** Template parameters the form sets itself (from the version and the data field), not typed by hand. */
const IMPLIED_PARAMS = new Set(['model_ref', 'data_path', 'capture_store']);

/** A template parameter is a gate when the report fails on it: thresholds and the gates mapping. */
function isGate(name: string): boolean {
  return /^(min|max)_/.test(name) || name === 'gates';
}

function ReportForm(props: IFormProps): JSX.Element {
  const [cron, setCron] = React.useState('0 6 * * *');
  const [template, setTemplate] = React.useState('monitoring');
  const [data, setData] = React.useState('');
  // the template's declared parameters (GET report-params): label column, gates, then the rest
  const [declared, setDeclared] = React.useState<Dict[]>([]);
  const [values, setValues] = React.useState<Record<string, string>>({});
  const [paramError, setParamError] = React.useState<string | null>(null);
  const [schedulesTick, setSchedulesTick] = React.useState(0);
  React.useEffect(() => {
    let cancelled = false;
    props.client
      .get<Dict>('report-params', { template })
      .then(r => !cancelled && setDeclared(asList(r.params).filter(p => !IMPLIED_PARAMS.has(String(p.name)))))
      .catch(e => !cancelled && setParamError(message(e)));
    return () => {
      cancelled = true;
    };
  }, [template, props.client]);
  const typed = (): Dict | null => {
    const out: Dict = {};
    for (const p of declared) {
      const r = templateParamValue(values[p.name] ?? '', { name: String(p.name), type: String(p.type) });
      if (r.error) {
        setParamError(r.error);
        return null;
      }
      if (!r.skip) {
        out[p.name] = r.value;
      }
    }
    setParamError(null);
    return out;
  };
  const extra = (): Dict | null => {
    const params = typed();
    if (params === null) {
      return null;
    }
    return {
      template,
      ...(data.trim() ? { data: data.trim() } : {}),
      ...(Object.keys(params).length > 0 ? { params } : {})
    };
  };
  const paramField = (p: Dict) => (
    <Field key={String(p.name)} label={`${String(p.name)}${p.help ? ` – ${String(p.help)}` : ''}`}>
      <input
        className="jp-mod-styled"
        value={values[p.name] ?? ''}
        placeholder={String(p.default ?? '').replace(/^"(.*)"$/, '$1') || String(p.type)}
        onChange={e => setValues({ ...values, [p.name]: e.target.value })}
        data-testid={`jmo-report-param-${p.name}`}
      />
    </Field>
  );
  const labelParams = declared.filter(p => p.name === 'label_column');
  const gateParams = declared.filter(p => isGate(String(p.name)));
  const otherParams = declared.filter(p => p.name !== 'label_column' && !isGate(String(p.name)));
  const [description, setDescription] = React.useState<string>('');
  const [cronError, setCronError] = React.useState<string | null>(null);
  const run = useJob(props.client, props.onChanged);
  const schedule = useJob(props.client, props.onChanged);

  React.useEffect(() => {
    let cancelled = false;
    const timer = setTimeout(() => {
      props.client
        .get<Dict>('cron', { expression: cron })
        .then(r => {
          if (!cancelled) {
            setDescription(String(r.description));
            setCronError(null);
          }
        })
        .catch(e => {
          if (!cancelled) {
            setDescription('');
            setCronError(message(e));
          }
        });
    }, 250);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [cron, props.client]);

  return (
    <div className="jp-ModelOps-form" data-testid="jmo-form-report">
      <Field label="Template">
        <select
          className="jp-mod-styled"
          value={template}
          onChange={e => {
            setTemplate(e.target.value);
            setValues({});
            setParamError(null);
          }}
          data-testid="jmo-report-template"
        >
          <option value="monitoring">monitoring</option>
          <option value="drift">drift</option>
          <option value="evaluation">evaluation</option>
        </select>
      </Field>
      <Field label="Data file (CSV or Parquet, on the server)">
        <input
          className="jp-mod-styled"
          value={data}
          placeholder="data/latest.csv"
          onChange={e => setData(e.target.value)}
          data-testid="jmo-report-data"
        />
      </Field>
      {labelParams.map(paramField)}
      {gateParams.length > 0 && (
        <fieldset className="jp-ModelOps-fieldset" data-testid="jmo-report-gates">
          <legend>Gates (empty: the template's default)</legend>
          {gateParams.map(paramField)}
        </fieldset>
      )}
      {otherParams.length > 0 && (
        <Folded title="More parameters" testid="jmo-report-more">
          {otherParams.map(paramField)}
        </Folded>
      )}
      <ErrorLine error={paramError} testid="jmo-report-param-error" />
      <button
        className="jp-mod-styled jp-mod-accept"
        disabled={busy(run.job)}
        onClick={() => {
          const e = extra();
          if (e) {
            void run.start('report', { ref: props.ref_, ...e });
          }
        }}
        data-testid="jmo-report-submit"
      >
        Run report now
      </button>
      <ErrorLine error={run.error} testid="jmo-form-error" />
      {run.job && (
        <JobView
          job={run.job}
          render={r => (
            <>
              <Gates gates={r?.gates} testid="jmo-job-gates" />
              <KeyValues data={pick(r, ['metrics', 'html'])} />
            </>
          )}
        />
      )}
      <Field label="Schedule (cron)">
        <input
          className="jp-mod-styled"
          value={cron}
          onChange={e => setCron(e.target.value)}
          data-testid="jmo-schedule-cron"
          aria-describedby="jmo-cron-preview"
        />
      </Field>
      <div id="jmo-cron-preview" className="jp-ModelOps-muted" data-testid="jmo-cron-preview">
        {description}
      </div>
      <ErrorLine error={cronError} testid="jmo-cron-error" />
      <button
        className="jp-mod-styled"
        disabled={busy(schedule.job) || cronError !== null}
        onClick={() => {
          const e = extra();
          if (e) {
            void schedule.start('schedule', { ref: props.ref_, cron, ...e });
          }
        }}
        data-testid="jmo-schedule-submit"
      >
        Schedule
      </button>
      <ErrorLine error={schedule.error} testid="jmo-form-error" />
      {schedule.job && (
        <JobView
          job={schedule.job}
          render={r => <KeyValues data={pick(r, ['id', 'cron', 'description', 'target'])} />}
        />
      )}
      <ScheduleList
        client={props.client}
        tick={schedulesTick + (schedule.job?.status === 'succeeded' ? 1 : 0)}
        onChanged={() => setSchedulesTick(t => t + 1)}
      />
    </div>
  );
}

/** The scheduled reports (GET schedules), each with Remove (the unschedule verb: exactly its crontab line). */
function ScheduleList(props: { client: ModelOpsClient; tick: number; onChanged: () => void }): JSX.Element {
  const [items, setItems] = React.useState<Dict[] | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const remove = useJob(props.client, props.onChanged);
  React.useEffect(() => {
    let cancelled = false;
    props.client
      .get<Dict>('schedules')
      .then(r => {
        if (!cancelled) {
          setItems(asList(r.schedules ?? r));
          setError(null);
        }
      })
      .catch(e => !cancelled && setError(message(e)));
    return () => {
      cancelled = true;
    };
  }, [props.client, props.tick, remove.job?.status]);
  return (
    <div data-testid="jmo-schedules">
      <h4>Schedules</h4>
      <ErrorLine error={error ?? remove.error} testid="jmo-schedules-error" />
      {items !== null && items.length === 0 && <div className="jp-ModelOps-muted">none</div>}
      <ul>
        {(items ?? []).map(s => (
          <li key={String(s.id)} data-testid={`jmo-schedule-${s.id}`}>
            <b>{String(s.ref ?? '')}</b> {String(s.template ?? '')}{' '}
            <span className="jp-ModelOps-muted" title={String(s.cron)}>
              {String(s.description ?? s.cron)} ({String(s.target ?? '')})
            </span>{' '}
            <button
              className="jp-ModelOps-link"
              disabled={busy(remove.job)}
              onClick={() => void remove.start('unschedule', { schedule_id: String(s.id) })}
              data-testid={`jmo-unschedule-${s.id}`}
              aria-label={`Remove the schedule ${String(s.id)}`}
            >
              remove
            </button>
          </li>
        ))}
      </ul>
      {remove.job && remove.job.status === 'failed' && <JobView job={remove.job} />}
    </div>
  );
}

// ----------------------------------------------------------------- monitoring

/** One small chart: a line, its interval band, the last value, and an optional threshold line. */
function MiniChart(props: {
  title: string;
  values: (number | null)[];
  low?: (number | null)[];
  high?: (number | null)[];
  threshold?: number;
  alarms?: boolean[];
  testid?: string;
}): JSX.Element {
  const W = 200;
  const H = 40;
  const extra = props.threshold !== undefined && Number.isFinite(props.threshold) ? [props.threshold] : [];
  const c = chartPaths(props.values, props.low ?? [], props.high ?? [], W, H, extra);
  const last = [...props.values].reverse().find(v => v !== null && Number.isFinite(v)) ?? null;
  const n = props.values.length;
  const y = (v: number) => (c.max === c.min ? H / 2 : H - 2 - ((v - c.min) / (c.max - c.min)) * (H - 4));
  return (
    <div className="jp-ModelOps-chart" data-testid={props.testid}>
      <div className="jp-ModelOps-chart-head">
        <span>{props.title}</span> <b data-testid="jmo-chart-last">{last === null ? '–' : formatNumber(last)}</b>
      </div>
      {c.line || c.band ? (
        <svg
          viewBox={`0 0 ${W} ${H}`}
          preserveAspectRatio="none"
          width="100%"
          height={H}
          role="img"
          aria-label={`${props.title} over ${n} windows`}
        >
          {c.band && <path d={c.band} className="jp-ModelOps-chart-band" data-testid="jmo-chart-band" />}
          {props.alarms &&
            props.alarms.map((a, i) =>
              a ? (
                <rect
                  key={i}
                  x={n <= 1 ? 0 : (i * W) / (n - 1) - 2}
                  y={0}
                  width={4}
                  height={H}
                  className="jp-ModelOps-chart-alarm"
                  data-testid="jmo-chart-alarm-window"
                />
              ) : null
            )}
          {extra.length > 0 && (
            <line x1={0} x2={W} y1={y(extra[0])} y2={y(extra[0])} className="jp-ModelOps-chart-threshold" />
          )}
          <path d={c.line} className="jp-ModelOps-chart-line" fill="none" />
          {/* a dot per window, so that a window alone between empty ones shows too */}
          {props.values.map((v, i) =>
            v !== null &&
            Number.isFinite(v) &&
            (n <= 96 || ((props.values[i - 1] ?? null) === null && (props.values[i + 1] ?? null) === null)) ? (
              <circle
                key={i}
                cx={n <= 1 ? W / 2 : (i * W) / (n - 1)}
                cy={y(v)}
                r={1.5}
                className="jp-ModelOps-chart-dot"
              />
            ) : null
          )}
        </svg>
      ) : (
        <div className="jp-ModelOps-muted">no data</div>
      )}
    </div>
  );
}

/** An ISO time as `2026-12-02 18:43 UTC` (the windows' resolution is minutes). */
function shortTime(iso: unknown): string {
  const t = String(iso ?? '');
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(t);
  return m ? `${m[1]} ${m[2]} UTC` : t;
}

function series(windows: Dict[], get: (w: Dict) => unknown): (number | null)[] {
  return windows.map(w => {
    const v = get(w);
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  });
}

/** The drift features with the largest shift over the period first (at most `n`). */
function topDrift(windows: Dict[], n = 4): string[] {
  const peak = new Map<string, number>();
  for (const w of windows) {
    for (const [f, d] of Object.entries((w.drift ?? {}) as Dict)) {
      const z = typeof d?.z === 'number' ? Math.abs(d.z) : 0;
      peak.set(f, Math.max(peak.get(f) ?? 0, z));
    }
  }
  return [...peak.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([f]) => f);
}

/** Charts of one performance metric: estimated (band = interval) or realized once labels arrived. */
function PerformanceCharts(props: { windows: Dict[]; kind: 'estimated' | 'realized' }): JSX.Element | null {
  const metrics = new Set<string>();
  for (const w of props.windows) {
    for (const m of Object.keys((w[props.kind] ?? {}) as Dict)) {
      if (m !== 'n') {
        metrics.add(m);
      }
    }
  }
  const point = props.kind === 'estimated' ? 'estimate' : 'value';
  return (
    <>
      {[...metrics].map(m => (
        <MiniChart
          key={m}
          title={`${m} (${props.kind})`}
          values={series(props.windows, w => w[props.kind]?.[m]?.[point])}
          low={series(props.windows, w => w[props.kind]?.[m]?.low)}
          high={series(props.windows, w => w[props.kind]?.[m]?.high)}
          testid={`jmo-chart-${props.kind}-${m}`}
        />
      ))}
    </>
  );
}

/** The JSON type a verb parameter declares, as a template parameter type (for templateParamValue). */
const VERB_TYPES: Record<string, string> = { integer: 'int', number: 'float', boolean: 'bool', object: 'dict' };

/**
 * A verb's parameters (GET verbs/{verb}: the declaration the magic and the command line are built from) as
 * fields: label = help, placeholder = default; empty fields are not sent, so the core's default applies.
 */
function useVerbFields(client: ModelOpsClient, verb: string, skip: string[]) {
  const [params, setParams] = React.useState<Dict[]>([]);
  const [values, setValues] = React.useState<Record<string, string>>({});
  const [error, setError] = React.useState<string | null>(null);
  React.useEffect(() => {
    client
      .get<Dict>(`verbs/${encodeURIComponent(verb)}`)
      .then(v =>
        setParams(
          asList(v.params).filter(
            p =>
              Array.isArray(p.faces) &&
              p.faces.includes('rest') &&
              !skip.includes(String(p.name)) &&
              p.type !== 'boolean'
          )
        )
      )
      .catch(e => setError(message(e)));
  }, [client, verb]);
  const collect = (): Dict | null => {
    const out: Dict = {};
    for (const p of params) {
      const r = templateParamValue(values[p.name] ?? '', {
        name: String(p.name),
        type: VERB_TYPES[String(p.type)] ?? 'str'
      });
      if (r.error) {
        setError(r.error);
        return null;
      }
      if (!r.skip) {
        out[p.name] = r.value;
      }
    }
    setError(null);
    return out;
  };
  const field = (p: Dict) => (
    <Field key={String(p.name)} label={`${String(p.name).replace(/_/g, ' ')}: ${String(p.help ?? '')}`}>
      <input
        className="jp-mod-styled"
        value={values[p.name] ?? ''}
        placeholder={p.default === null || p.default === undefined ? '' : String(p.default)}
        onChange={e => setValues(vs => ({ ...vs, [p.name]: e.target.value }))}
        data-testid={`jmo-${verb}-${p.name}`}
      />
    </Field>
  );
  return { params, field, collect, error };
}

/**
 * The monitoring view of one deployment: `mo.monitor(ref, since=..., every=...)` run as a job (the monitor
 * verb, its fields from the verb's declaration) and drawn as small charts, with its alarms and the version's reports.
 */
function MonitorView(props: { client: ModelOpsClient; ref_: string; name: string; reports: Dict[] }): JSX.Element {
  const fields = useVerbFields(props.client, 'monitor', ['ref']);
  const job = useJob(props.client);
  const run = () => {
    const given = fields.collect();
    if (given !== null) {
      void job.start('monitor', { ...given, ref: props.ref_ });
    }
  };
  React.useEffect(run, [props.ref_]);
  const mine = props.reports.filter(r => String(r.ref ?? '') === props.ref_ && r.html);
  const main = ['since', 'every', 'score_column'];
  return (
    <div className="jp-ModelOps-monitor" data-testid={`jmo-monitor-${props.name}`}>
      <form
        className="jp-ModelOps-form jp-ModelOps-inline"
        onSubmit={e => {
          e.preventDefault();
          run();
        }}
      >
        {fields.params.filter(p => main.includes(String(p.name))).map(fields.field)}
        <Folded title="More settings" testid="jmo-monitor-more">
          {fields.params.filter(p => !main.includes(String(p.name))).map(fields.field)}
        </Folded>
        <ErrorLine error={fields.error} testid="jmo-monitor-field-error" />
        <Submit label="Refresh" busy={busy(job.job)} testid="jmo-monitor-submit" />
      </form>
      <ErrorLine error={job.error} testid="jmo-form-error" />
      {job.job && (
        <JobView
          job={job.job}
          render={(r: Dict) => {
            const ws = asList(r?.windows);
            const alarmed = ws.filter(w => w.alarm).length;
            return (
              <div data-testid="jmo-monitor-result">
                <div
                  className={`jp-ModelOps-alarm jp-ModelOps-alarm-${r?.first_alarm ? 'on' : 'off'}`}
                  data-testid="jmo-monitor-alarm"
                  data-alarm={r?.first_alarm ? 'on' : 'off'}
                >
                  {r?.first_alarm
                    ? `Drift alarm since ${shortTime(r.first_alarm)} (${alarmed} of ${ws.length} windows)`
                    : `No drift alarm (${ws.length} windows, false-alarm budget ${formatNumber(Number(r?.alpha))})`}
                </div>
                <div className="jp-ModelOps-muted" data-testid="jmo-monitor-rows">
                  {ws.reduce((a, w) => a + Number(w.rows ?? 0), 0)} captured rows, {shortTime(r?.since)} –{' '}
                  {shortTime(r?.until)}
                </div>
                <MiniChart title="requests" values={series(ws, w => w.requests)} testid="jmo-chart-requests" />
                <MiniChart title="latency p50 (ms)" values={series(ws, w => w.latency_p50_ms)} testid="jmo-chart-p50" />
                <MiniChart title="latency p99 (ms)" values={series(ws, w => w.latency_p99_ms)} testid="jmo-chart-p99" />
                <MiniChart title="error rate" values={series(ws, w => w.error_rate)} testid="jmo-chart-errors" />
                <MiniChart
                  title="drift alarm statistic"
                  values={series(ws, w => w.alarm_statistic)}
                  threshold={typeof r?.threshold === 'number' ? r.threshold : undefined}
                  alarms={ws.map(w => Boolean(w.alarm))}
                  testid="jmo-chart-alarm"
                />
                {topDrift(ws).map(f => (
                  <MiniChart
                    key={f}
                    title={`drift ${f} (z)`}
                    values={series(ws, w => w.drift?.[f]?.z)}
                    testid={`jmo-chart-drift-${f}`}
                  />
                ))}
                <PerformanceCharts windows={ws} kind="estimated" />
                <PerformanceCharts windows={ws} kind="realized" />
              </div>
            );
          }}
        />
      )}
      {mine.length > 0 && (
        <ul className="jp-ModelOps-links" data-testid="jmo-monitor-reports">
          {mine.map((r, i) => (
            <li key={i}>
              <a href={props.client.reportUrl(String(r.html))} target="_blank" rel="noopener noreferrer">
                {String(r.template ?? 'report')} {ago(r.started ?? r.created)}
              </a>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

// ----------------------------------------------------------------- compare

/** Two versions side by side: metrics with intervals (GET diff), signature, lineage and what else changed. */
function CompareView(props: { client: ModelOpsClient; name: string; version: string }): JSX.Element {
  const { client, name, version } = props;
  const [versions, setVersions] = React.useState<string[]>([]);
  const [other, setOther] = React.useState('');
  const [diff, setDiff] = React.useState<Dict | null>(null);
  const [pair, setPair] = React.useState<[Dict, Dict] | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  React.useEffect(() => {
    client
      .get<unknown>(`models/${encodeURIComponent(name)}`)
      .then(v => {
        const vs = asList(v)
          .map(x => String(x.version))
          .filter(x => x !== version);
        setVersions(vs);
        setOther(o => o || (vs.length > 0 ? vs[vs.length - 1] : ''));
      })
      .catch(e => setError(message(e)));
  }, [client, name, version]);
  React.useEffect(() => {
    if (!other) {
      return;
    }
    let cancelled = false;
    setError(null);
    const a = `${name}:${other}`;
    const b = `${name}:${version}`;
    Promise.all([
      client.get<Dict>('diff', { a, b }),
      client.get<Dict>(`models/${encodeURIComponent(name)}/${encodeURIComponent(other)}`),
      client.get<Dict>(`models/${encodeURIComponent(name)}/${encodeURIComponent(version)}`)
    ])
      .then(([d, va, vb]) => {
        if (!cancelled) {
          setDiff(d);
          setPair([va, vb]);
        }
      })
      .catch(e => !cancelled && setError(message(e)));
    return () => {
      cancelled = true;
    };
  }, [client, name, version, other]);
  if (versions.length === 0) {
    return <div className="jp-ModelOps-muted">{error ?? 'This is the only version.'}</div>;
  }
  const inputs = (v: Dict) =>
    asList(v.signature?.inputs)
      .map(x => `${String(x.name)} ${String(x.datatype ?? '')} ${JSON.stringify(x.shape ?? '')}`)
      .join('; ');
  const sig = (diff?.signature ?? {}) as Dict;
  const changedParams = Object.keys((diff?.params ?? {}) as Dict);
  return (
    <div className="jp-ModelOps-compare" data-testid="jmo-compare">
      <Field label="Compare with">
        <select
          className="jp-mod-styled"
          value={other}
          onChange={e => setOther(e.target.value)}
          data-testid="jmo-compare-with"
        >
          {versions.map(v => (
            <option key={v} value={v}>
              {name}:{v}
            </option>
          ))}
        </select>
      </Field>
      <ErrorLine error={error} testid="jmo-compare-error" />
      {diff && pair && (
        <table className="jp-ModelOps-table jp-ModelOps-compare-table" data-testid="jmo-compare-table">
          <thead>
            <tr>
              <th>v{other}</th>
              <th>v{version}</th>
            </tr>
          </thead>
          {/* each row's name on a line of its own, so two values fit the default sidebar width */}
          {asList(diff.metrics).map(m => (
            <tbody key={String(m.metric)} data-testid={`jmo-compare-metric-${m.metric}`}>
              <tr>
                <th colSpan={2} className="jp-ModelOps-compare-name">
                  {breakable(String(m.metric))}
                  {m.overlap === false && (
                    <span title="the intervals do not overlap" data-testid="jmo-compare-significant">
                      {' '}
                      ≠
                    </span>
                  )}
                </th>
              </tr>
              <tr>
                <td>
                  <MetricValue raw={m.a} />
                </td>
                <td>
                  <MetricValue raw={m.b} />
                  {typeof m.delta === 'number' && m.delta !== 0 && (
                    <div
                      className="jp-ModelOps-muted"
                      style={{
                        color:
                          m.better === true
                            ? VERDICT_COLOURS.pass
                            : m.better === false
                              ? VERDICT_COLOURS.fail
                              : undefined
                      }}
                    >
                      {m.delta > 0 ? '+' : ''}
                      {formatNumber(m.delta)}
                    </div>
                  )}
                </td>
              </tr>
            </tbody>
          ))}
          <tbody data-testid="jmo-compare-signature">
            <tr>
              <th colSpan={2} className="jp-ModelOps-compare-name">
                inputs
              </th>
            </tr>
            <tr>
              <td>{inputs(pair[0])}</td>
              <td>{inputs(pair[1])}</td>
            </tr>
          </tbody>
          <tbody data-testid="jmo-compare-lineage">
            <tr>
              <th colSpan={2} className="jp-ModelOps-compare-name">
                lineage
              </th>
            </tr>
            <tr>
              <td>{showValue(lineageOf(pair[0]))}</td>
              <td>{showValue(lineageOf(pair[1]))}</td>
            </tr>
          </tbody>
        </table>
      )}
      {diff && (
        <ul className="jp-ModelOps-diff" data-testid="jmo-compare-diff">
          <li>{diff.same_data ? 'same training data' : 'different training data (or not recorded)'}</li>
          <li>{diff.artifacts?.model ? 'different model file' : 'identical model file'}</li>
          {changedParams.length > 0 && <li>params changed: {changedParams.join(', ')}</li>}
          {asList(sig.added_features).length > 0 && <li>features added: {sig.added_features.join(', ')}</li>}
          {asList(sig.removed_features).length > 0 && <li>features removed: {sig.removed_features.join(', ')}</li>}
          {Object.keys((sig.changed_inputs ?? {}) as Dict).length > 0 && (
            <li>inputs changed: {Object.keys(sig.changed_inputs).join(', ')}</li>
          )}
          {Object.keys((diff.environment ?? {}) as Dict).length > 0 && (
            <li>environment changed: {Object.keys(diff.environment).join(', ')}</li>
          )}
        </ul>
      )}
    </div>
  );
}

// ----------------------------------------------------------------- version view

const ACTION_TABS = [
  ['export', 'Export'],
  ['build', 'Build / push'],
  ['deploy', 'Deploy'],
  ['rollout', 'Promote / roll back'],
  ['report', 'Report / schedule'],
  ['mlflow', 'Log to MLflow']
] as const;

function VersionView(props: {
  client: ModelOpsClient;
  name: string;
  version: string;
  revision: string;
  info: IInfo | null;
  onBack: () => void;
}): JSX.Element {
  const { client, name, version } = props;
  const ref = `${name}:${version}`;
  const [data, setData] = React.useState<Dict | null>(null);
  const [records, setRecords] = React.useState<Dict[]>([]);
  const [reports, setReports] = React.useState<Dict[]>([]);
  const [deployments, setDeployments] = React.useState<Dict[]>([]);
  const [error, setError] = React.useState<string | null>(null);
  const [tab, setTab] = React.useState<string>('export');
  const [watching, setWatching] = React.useState<string | null>(null);
  const [tick, setTick] = React.useState(0);
  const refresh = React.useCallback(() => setTick(t => t + 1), []);

  React.useEffect(() => {
    let cancelled = false;
    client
      .get<Dict>(`models/${encodeURIComponent(name)}/${encodeURIComponent(version)}`)
      .then(d => !cancelled && setData(d))
      .catch(e => !cancelled && setError(message(e)));
    client
      .get<unknown>('records', { ref })
      .then(r => !cancelled && setRecords(asList(r)))
      .catch(() => undefined);
    client
      .get<unknown>('reports', { name })
      .then(r => !cancelled && setReports(asList(r)))
      .catch(() => undefined);
    const mine = (d: Dict) => String(d.ref ?? '').startsWith(`${name}:`) || (!d.ref && String(d.name) === name);
    Promise.all([
      client.get<unknown>('local-deployments').catch(() => []),
      client.get<unknown>('deployments').catch(() => [])
    ])
      .then(([local, kube]) => {
        if (!cancelled) {
          const k8s = asList(kube).filter(d => d.cluster);
          setDeployments([...asList(local), ...k8s].filter(mine));
        }
      })
      .catch(() => undefined);
    return () => {
      cancelled = true;
    };
  }, [client, name, version, props.revision, tick]);

  const badges = React.useContext(BadgeContext);
  const exports = records.filter(r => r.kind === 'export');
  const images = records.filter(r => r.kind === 'image');
  const trendKey = reports.length > 0 ? Object.keys(reports[reports.length - 1].metrics ?? {})[0] : undefined;
  const trend = trendKey
    ? reports.map(r => readMetric(r.metrics?.[trendKey]).value).filter((v): v is number => v !== null)
    : [];
  const available = (action: string) => !props.info || props.info.actions.some(a => a.name === action && a.available);

  return (
    <div className="jp-ModelOps-version" data-testid="jmo-version-view">
      <div className="jp-ModelOps-toolbar">
        <button className="jp-mod-styled" onClick={props.onBack} data-testid="jmo-back" aria-label="Back to the models">
          ← Models
        </button>
        <h2 data-testid="jmo-version-title">{ref}</h2>
      </div>
      <ErrorLine error={error} />
      {data && (
        <>
          <div className="jp-ModelOps-sub">
            <span>{String(data.flavor ?? '')}</span> <Aliases aliases={aliasesOf(data)} />{' '}
            <Badges badges={[...(badges.get(ref) ?? [])]} />{' '}
            <span className="jp-ModelOps-muted">{ago(data.created ?? data.created_at)}</span>
          </div>
          <AliasForm client={client} name={name} version={version} onDone={refresh} />
          <Section title="Metrics" testid="jmo-metrics">
            <table className="jp-ModelOps-table">
              <tbody>
                {Object.entries((data.metrics ?? {}) as Dict).map(([k, v]) => (
                  <tr key={k}>
                    <th>{breakable(k)}</th>
                    <td>
                      <MetricValue raw={v} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Section>
          <Section title="Signature" testid="jmo-signature">
            <table className="jp-ModelOps-table">
              <tbody>
                {[
                  ...asList(data.signature?.inputs).map(x => ['in', x]),
                  ...asList(data.signature?.outputs).map(x => ['out', x])
                ].map(([dir, x], i) => (
                  <tr key={i}>
                    <th>
                      {String(dir)} {String((x as Dict).name)}
                    </th>
                    <td>
                      {String((x as Dict).datatype ?? '')} {JSON.stringify((x as Dict).shape ?? '')}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {Array.isArray(data.signature?.feature_names) && data.signature.feature_names.length > 0 && (
              <div className="jp-ModelOps-muted" data-testid="jmo-features">
                features: {data.signature.feature_names.slice(0, 12).join(', ')}
                {data.signature.feature_names.length > 12 ? ` (+${data.signature.feature_names.length - 12} more)` : ''}
              </div>
            )}
          </Section>
          <Folded title="Lineage" testid="jmo-lineage">
            <KeyValues data={lineageOf(data)} />
          </Folded>
          <Folded title="Environment" testid="jmo-environment">
            <KeyValues data={data.environment} />
          </Folded>
          <Folded title="Compare with another version" testid="jmo-compare-section">
            <CompareView client={client} name={name} version={version} />
          </Folded>
        </>
      )}
      <Section title="Exports" testid="jmo-exports">
        {exports.length === 0 ? (
          <div className="jp-ModelOps-muted">none yet</div>
        ) : (
          <ul>
            {exports.map((r, i) => (
              <li key={i} data-testid="jmo-export-record">
                {String(r.data?.format ?? 'export')} {r.data?.options?.quantize ? `(${r.data.options.quantize})` : ''}{' '}
                {r.data?.passed === false ? 'parity failed' : 'parity passed'}{' '}
                <span className="jp-ModelOps-muted">{ago(r.created ?? r.time)}</span>
              </li>
            ))}
          </ul>
        )}
      </Section>
      <Section title="Images">
        {images.length === 0 ? (
          <div className="jp-ModelOps-muted">none yet</div>
        ) : (
          <ul>
            {images.map((r, i) => (
              <li key={i}>{String(r.data?.reference ?? r.data?.tag ?? r.data?.digest ?? 'image')}</li>
            ))}
          </ul>
        )}
      </Section>
      <Section title="Deployments" testid="jmo-deployments">
        {deployments.length === 0 ? (
          <div className="jp-ModelOps-muted">not deployed</div>
        ) : (
          <ul>
            {deployments.map(d => (
              <li key={String(d.name)} data-testid={`jmo-deployment-${d.name}`}>
                <b>{String(d.name)}</b> {String(d.ref ?? '')} on {String(d.target ?? d.cluster ?? '')}{' '}
                <span
                  className={`jp-ModelOps-state jp-ModelOps-state-${d.status ?? d.state}`}
                  data-testid="jmo-deployment-status"
                >
                  {String(d.status ?? d.state ?? '')}
                </span>{' '}
                {d.url && <span className="jp-ModelOps-muted">{String(d.url)}</span>}
                {d.target === 'local' && d.status === 'running' && (
                  <StopButton client={client} name={String(d.name)} onDone={refresh} />
                )}{' '}
                <button
                  className="jp-ModelOps-link"
                  aria-expanded={watching === String(d.name)}
                  onClick={() => setWatching(watching === String(d.name) ? null : String(d.name))}
                  data-testid={`jmo-watch-${d.name}`}
                >
                  {watching === String(d.name) ? 'hide monitoring' : 'monitoring'}
                </button>
                {watching === String(d.name) && (
                  <MonitorView client={client} ref_={String(d.ref ?? ref)} name={String(d.name)} reports={reports} />
                )}
              </li>
            ))}
          </ul>
        )}
      </Section>
      <Section title="Monitoring" testid="jmo-monitoring">
        {reports.length === 0 ? (
          <div className="jp-ModelOps-muted">no reports yet</div>
        ) : (
          <>
            {trendKey && (
              <div>
                {trendKey} <Sparkline values={trend} label={trendKey} />{' '}
                <span className="jp-ModelOps-muted" data-testid="jmo-trend-last">
                  {trend.length > 0 ? formatNumber(trend[trend.length - 1]) : ''} ({trend.length} report
                  {trend.length === 1 ? '' : 's'})
                </span>
              </div>
            )}
            <ul data-testid="jmo-reports">
              {reports.map((r, i) => (
                <li key={i} data-testid="jmo-report">
                  <VerdictText verdict={reportVerdict(r).verdict} testid="jmo-report-verdict">
                    {reportVerdict(r).label}
                  </VerdictText>{' '}
                  {r.html ? (
                    <a
                      href={client.reportUrl(String(r.html))}
                      target="_blank"
                      rel="noopener noreferrer"
                      data-testid="jmo-report-link"
                    >
                      {String(r.template ?? 'report')} {String(r.ref ?? '')}
                    </a>
                  ) : (
                    String(r.template ?? `report ${i + 1}`)
                  )}{' '}
                  <span className="jp-ModelOps-muted">{ago(r.started ?? r.created)}</span>
                  {i === reports.length - 1 && <Gates gates={r.gates} />}
                </li>
              ))}
            </ul>
          </>
        )}
      </Section>
      <Section title="Actions">
        <div className="jp-ModelOps-tabs" role="tablist" aria-label="Actions">
          {ACTION_TABS.map(([id, label]) => (
            <button
              key={id}
              role="tab"
              aria-selected={tab === id}
              className={`jp-ModelOps-tab${tab === id ? ' jp-mod-active' : ''}`}
              onClick={() => setTab(id)}
              data-testid={`jmo-tab-${id}`}
            >
              {label}
            </button>
          ))}
        </div>
        <div role="tabpanel">
          {tab === 'export' &&
            (available('export') ? (
              <ExportForm client={client} ref_={ref} version={data ?? {}} onChanged={refresh} />
            ) : (
              <Missing what="Export" />
            ))}
          {tab === 'build' &&
            (available('build') ? (
              <BuildForm client={client} ref_={ref} version={data ?? {}} onChanged={refresh} />
            ) : (
              <Missing what="Images" />
            ))}
          {tab === 'deploy' &&
            (available('deploy') ? (
              <DeployForm client={client} ref_={ref} version={data ?? {}} onChanged={refresh} />
            ) : (
              <Missing what="Deploy" />
            ))}
          {tab === 'rollout' &&
            (available('rollback') ? (
              <DeploymentActions
                client={client}
                ref_={ref}
                version={data ?? {}}
                onChanged={refresh}
                deployments={deployments}
              />
            ) : (
              <Missing what="Rollout" />
            ))}
          {tab === 'report' &&
            (available('report') ? (
              <ReportForm client={client} ref_={ref} version={data ?? {}} onChanged={refresh} />
            ) : (
              <Missing what="Reports" />
            ))}
          {tab === 'mlflow' &&
            (available('mlflow') ? (
              <MlflowForm client={client} ref_={ref} version={data ?? {}} onChanged={refresh} />
            ) : (
              <Missing what="MLflow" />
            ))}
        </div>
      </Section>
    </div>
  );
}

/** Point an alias (e.g. production) at this version: one PUT, the registry keeps the history. */
function AliasForm(props: { client: ModelOpsClient; name: string; version: string; onDone: () => void }): JSX.Element {
  const [alias, setAlias] = React.useState('');
  const [error, setError] = React.useState<string | null>(null);
  const [busyNow, setBusy] = React.useState(false);
  return (
    <form
      className="jp-ModelOps-inline"
      data-testid="jmo-form-alias"
      onSubmit={e => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        props.client
          .send('PUT', `aliases/${encodeURIComponent(props.name)}/${encodeURIComponent(alias.trim())}`, {
            version: Number(props.version)
          })
          .then(() => {
            setAlias('');
            props.onDone();
          })
          .catch(err => setError(message(err)))
          .finally(() => setBusy(false));
      }}
    >
      <input
        className="jp-mod-styled"
        value={alias}
        placeholder="alias, e.g. production"
        aria-label="Alias to point at this version"
        onChange={e => setAlias(e.target.value)}
        data-testid="jmo-alias-input"
      />
      <button
        type="submit"
        className="jp-mod-styled"
        disabled={busyNow || !alias.trim()}
        data-testid="jmo-alias-submit"
      >
        Set alias
      </button>
      <ErrorLine error={error} testid="jmo-alias-error" />
    </form>
  );
}

function StopButton(props: { client: ModelOpsClient; name: string; onDone: () => void }): JSX.Element {
  const { job, error, start } = useJob(props.client, props.onDone);
  return (
    <>
      <button
        className="jp-mod-styled jp-mod-warn"
        disabled={busy(job)}
        onClick={() => void start('stop', { deployment: props.name })}
        data-testid={`jmo-stop-${props.name}`}
      >
        Stop
      </button>
      <ErrorLine error={error ?? job?.error?.message ?? null} />
    </>
  );
}

function Missing(props: { what: string }): JSX.Element {
  return <div className="jp-ModelOps-muted">{props.what} is not available in this installation.</div>;
}

// ----------------------------------------------------------------- models list

function ModelItem(props: {
  client: ModelOpsClient;
  model: Dict;
  revision: string;
  onOpen: (name: string, version: string) => void;
}): JSX.Element {
  const { model } = props;
  const name = String(model.name);
  const [open, setOpen] = React.useState(false);
  const [versions, setVersions] = React.useState<Dict[] | null>(null);
  const [error, setError] = React.useState<string | null>(null);

  React.useEffect(() => {
    if (!open) {
      return;
    }
    let cancelled = false;
    props.client
      .get<unknown>(`models/${encodeURIComponent(name)}`)
      .then(v => !cancelled && setVersions(asList(v)))
      .catch(e => !cancelled && setError(message(e)));
    return () => {
      cancelled = true;
    };
  }, [open, name, props.revision]);

  const latest = model.latest ?? model.latest_version ?? model.version;
  const badges = React.useContext(BadgeContext);
  return (
    <li className="jp-ModelOps-model" data-testid={`jmo-model-${name}`}>
      <button
        className="jp-ModelOps-row"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
        data-testid={`jmo-model-toggle-${name}`}
      >
        <span className="jp-ModelOps-caret">{open ? '▾' : '▸'}</span>
        <span className="jp-ModelOps-name">{name}</span>
        {latest !== undefined && <span className="jp-ModelOps-muted">v{String(latest)}</span>}
        <Aliases aliases={aliasesOf(model)} />
        <Badges badges={[...(badges.get(name) ?? [])]} />
      </button>
      {open && (
        <ul className="jp-ModelOps-versions">
          <ErrorLine error={error} />
          {versions === null && !error && <li className="jp-ModelOps-muted">loading…</li>}
          {(versions ?? []).map(v => {
            const ver = String(v.version);
            return (
              <li key={ver}>
                <button
                  className="jp-ModelOps-row"
                  onClick={() => props.onOpen(name, ver)}
                  data-testid={`jmo-version-${name}-${ver}`}
                >
                  <span className="jp-ModelOps-name">v{ver}</span>
                  <span className="jp-ModelOps-metrics">
                    {keyMetrics(v.metrics).map(([k, m]) => (
                      <span key={k} className="jp-ModelOps-metric">
                        {k}
                        {'\u00a0'}
                        {m}
                      </span>
                    ))}
                  </span>
                  <Aliases aliases={aliasesOf(v)} />
                  <Badges badges={[...(badges.get(`${name}:${ver}`) ?? [])]} />
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </li>
  );
}

/** Badge names from the history other areas recorded: export -> exported, image -> built, deployment -> deployed. */
const BADGE_OF: Record<string, string> = { export: 'exported', image: 'built', report: 'monitored' };

/** Badges from the records, plus "deployed" only for what is live now (see liveDeployments). */
function badgesFrom(records: Dict[], live: Set<string> = new Set()): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const add = (key: string, badge: string) => {
    if (!out.has(key)) {
      out.set(key, new Set());
    }
    out.get(key)!.add(badge);
  };
  for (const r of records) {
    const badge = BADGE_OF[String(r.kind)];
    if (badge) {
      add(String(r.name), badge);
      add(`${r.name}:${r.version}`, badge);
    }
  }
  for (const ref of live) {
    add(ref, 'deployed');
  }
  return out;
}

const BadgeContext = React.createContext<Map<string, Set<string>>>(new Map());

function ModelOpsApp(props: { client: ModelOpsClient }): JSX.Element {
  const { client } = props;
  const [badges, setBadges] = React.useState<Map<string, Set<string>>>(new Map());
  const [info, setInfo] = React.useState<IInfo | null>(null);
  const [models, setModels] = React.useState<Dict[] | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [query, setQuery] = React.useState('');
  const [sort, setSort] = React.useState<ModelSort>('name');
  const [revision, setRevision] = React.useState('');
  const [selected, setSelected] = React.useState<{ name: string; version: string } | null>(null);

  const load = React.useCallback(() => {
    Promise.all([client.get<unknown>('records'), client.get<unknown>('local-deployments').catch(() => [])])
      .then(([r, local]) => {
        const records = asList(r);
        setBadges(badgesFrom(records, liveDeployments(records, asList(local))));
      })
      .catch(() => undefined);
    client
      .get<unknown>('models')
      .then(m => {
        setModels(asList(m));
        setError(null);
      })
      .catch(e => setError(message(e)));
  }, [client]);

  React.useEffect(() => {
    client
      .get<IInfo>('info')
      .then(setInfo)
      .catch(e => setError(message(e)));
  }, [client]);

  // Refresh when the registry changes: poll a cheap revision token.
  React.useEffect(() => {
    let stopped = false;
    let last = '';
    let ticks = 0;
    const tick = async () => {
      try {
        const r = await client.get<{ revision: unknown }>('revision');
        const rev = String(r.revision);
        ticks += 1;
        if (!stopped && rev !== last) {
          last = rev;
          setRevision(rev);
          load();
        } else if (!stopped && ticks % LIVE_EVERY_TICKS === 0) {
          load(); // a model server may stop without the registry changing: keep "deployed" live
        }
      } catch (e) {
        if (!stopped && last === '') {
          setError(message(e));
        }
      }
      if (!stopped) {
        timer = setTimeout(tick, REVISION_POLL_MS);
      }
    };
    let timer = setTimeout(tick, 0);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [client, load]);

  const q = query.trim().toLowerCase();
  const filtered = (models ?? []).filter(
    m =>
      !q ||
      String(m.name).toLowerCase().includes(q) ||
      aliasesOf(m).some(a => a.toLowerCase().includes(q)) ||
      String(m.flavor ?? '')
        .toLowerCase()
        .includes(q)
  );
  const shown = sortModels(filtered, sort);

  return (
    <BadgeContext.Provider value={badges}>
      <div className="jp-ModelOps" data-testid="jmo-panel" data-revision={revision}>
        <header className="jp-ModelOps-header">
          <h1>ModelOps</h1>
          <button
            className="jp-ModelOps-link"
            onClick={load}
            aria-label="Refresh"
            title="Refresh"
            data-testid="jmo-refresh"
          >
            ⟳
          </button>
        </header>
        {selected ? (
          <VersionView
            client={client}
            name={selected.name}
            version={selected.version}
            revision={revision}
            info={info}
            onBack={() => setSelected(null)}
          />
        ) : (
          <>
            <input
              className="jp-mod-styled jp-ModelOps-search"
              type="search"
              placeholder="Search models"
              aria-label="Search models"
              value={query}
              onChange={e => setQuery(e.target.value)}
              data-testid="jmo-search"
            />
            <select
              className="jp-mod-styled jp-ModelOps-sort"
              aria-label="Sort models"
              value={sort}
              onChange={e => setSort(e.target.value as ModelSort)}
              data-testid="jmo-sort"
            >
              <option value="name">name</option>
              <option value="updated">recently updated</option>
              <option value="versions">most versions</option>
            </select>
            <ErrorLine error={error} />
            {models === null && !error && <div className="jp-ModelOps-muted">loading…</div>}
            {models !== null && models.length === 0 && (
              <div className="jp-ModelOps-muted" data-testid="jmo-empty">
                No models yet. Snapshot one from a notebook with <code>%modelops snapshot model --name NAME</code>.
              </div>
            )}
            <ul className="jp-ModelOps-models" data-testid="jmo-models">
              {shown.map(m => (
                <ModelItem
                  key={String(m.name)}
                  client={client}
                  model={m}
                  revision={revision}
                  onOpen={(name, version) => setSelected({ name, version })}
                />
              ))}
            </ul>
          </>
        )}
        {info && <footer className="jp-ModelOps-muted jp-ModelOps-footer">jupyter-modelops {info.version}</footer>}
      </div>
    </BadgeContext.Provider>
  );
}

type ModelSort = 'name' | 'updated' | 'versions';

/** The model list in the order picked: by name, most recently updated first, or most versions first. */
function sortModels(models: Dict[], by: ModelSort): Dict[] {
  const byName = (a: Dict, b: Dict) => String(a.name).localeCompare(String(b.name));
  const out = [...models];
  if (by === 'updated') {
    out.sort((a, b) => String(b.updated ?? '').localeCompare(String(a.updated ?? '')) || byName(a, b));
  } else if (by === 'versions') {
    out.sort((a, b) => Number(b.versions ?? 0) - Number(a.versions ?? 0) || byName(a, b));
  } else {
    out.sort(byName);
  }
  return out;
}

/** The left-sidebar widget. */
export class ModelOpsPanel extends ReactWidget {
  constructor(private readonly client: ModelOpsClient) {
    super();
    this.addClass('jp-ModelOps-panel');
  }

  render(): JSX.Element {
    return <ModelOpsApp client={this.client} />;
  }
}
