import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { NAMESPACE, requestAPI } from './request';

/** A background job as `GET jobs/{id}` returns it. */
export interface IJob {
  id: string;
  action: string;
  params: Record<string, unknown>;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  progress: number;
  logs: string[];
  result: any;
  error: { error: string; message: string; status: number } | null;
  elapsed: number | null;
}

export interface IActionInfo {
  name: string;
  summary: string;
  available: boolean;
  params: { name: string; required: boolean; default: unknown }[];
}

export interface IInfo {
  version: string;
  actions: IActionInfo[];
}

/** Thin client of the server extension; every call is one REST request. */
export class ModelOpsClient {
  constructor(readonly settings: ServerConnection.ISettings) {}

  get<T>(path: string, query: Record<string, string | undefined> = {}): Promise<T> {
    const q = Object.entries(query)
      .filter(([, v]) => v !== undefined && v !== '')
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v as string)}`)
      .join('&');
    return requestAPI<T>(q ? `${path}?${q}` : path, { method: 'GET' }, this.settings);
  }

  send<T>(method: 'POST' | 'PUT' | 'DELETE', path: string, body: unknown): Promise<T> {
    return requestAPI<T>(path, { method, body: JSON.stringify(body) }, this.settings);
  }

  /** A link that opens a report run's HTML in a browser tab. */
  reportUrl(path: string): string {
    return `${URLExt.join(this.settings.baseUrl, NAMESPACE, 'api', 'report-html')}?path=${encodeURIComponent(path)}`;
  }

  startJob(action: string, params: Record<string, unknown>): Promise<IJob> {
    return this.send<IJob>('POST', 'jobs', { action, params });
  }

  job(id: string): Promise<IJob> {
    return this.get<IJob>(`jobs/${encodeURIComponent(id)}`);
  }

  /** Poll a job until it is done; `onUpdate` sees every state. */
  async waitJob(
    id: string,
    onUpdate: (job: IJob) => void,
    isCancelled: () => boolean = () => false,
    intervalMs = 400
  ): Promise<IJob> {
    for (;;) {
      const job = await this.job(id);
      if (isCancelled()) {
        return job;
      }
      onUpdate(job);
      if (job.status === 'succeeded' || job.status === 'failed') {
        return job;
      }
      await new Promise(resolve => setTimeout(resolve, intervalMs));
    }
  }
}
