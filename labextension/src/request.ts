import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** The server extension's namespace: `{base_url}/jupyter-modelops/api/...`. */
export const NAMESPACE = 'jupyter-modelops';

/** The one-sentence error body every handler returns. */
export interface IApiError {
  error: string;
  message: string;
  status: number;
}

/** An error reply from the server extension, carrying its one-sentence message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly kind: string = 'Error'
  ) {
    super(message);
  }
}

/**
 * Call the server extension's REST API.
 *
 * Goes through ServerConnection.makeRequest, so the token and the XSRF
 * cookie header are sent exactly as the rest of JupyterLab sends them.
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, NAMESPACE, 'api', endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ApiError(0, `Cannot reach the Jupyter server: ${error}`, 'NetworkError');
  }
  const text = await response.text();
  let data: any = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      // not JSON: keep the text for the error message
    }
  }
  if (!response.ok) {
    const body = data as Partial<IApiError>;
    const message = (body && typeof body === 'object' && body.message) || `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message, (body && body.error) || 'Error');
  }
  return data as T;
}
