// The services' HTTP JSON APIs, one error shape (RFC 9457 problems) and the signed-in key.

export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail);
    this.status = status;
    this.code = code;
  }
}

const KEY = "framesift.apiKey";

export function apiKey() {
  return sessionStorage.getItem(KEY);
}

export function signIn(key) {
  sessionStorage.setItem(KEY, key.trim());
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

// A JSON call; null for 204; throws ApiError with the problem's code and detail.
export async function call(path, { method = "GET", body, auth = false, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth && apiKey()) headers.Authorization = `Bearer ${apiKey()}`;
  let response;
  try {
    response = await fetch(path, { method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "unavailable", "the server did not answer");
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, data?.code ?? `http_${response.status}`, data?.detail ?? response.statusText);
  }
  return data;
}

export const curation = {
  frames: (q, pageToken = "", pageSize = 60, signal) =>
    call(`/v1/curation/frames?${new URLSearchParams({ q, page_size: pageSize, page_token: pageToken })}`, { signal }),
  counts: (q, signal) => call(`/v1/curation/counts?${new URLSearchParams({ q })}`, { signal }),
  frame: (id) => call(`/v1/curation/frames/${encodeURIComponent(id)}`),
  explain: (id) => call(`/v1/curation/frames/${encodeURIComponent(id)}/explain`),
  similar: (id, q = "", limit = 60) =>
    call(`/v1/curation/frames/${encodeURIComponent(id)}/similar?${new URLSearchParams({ q, limit })}`),
  // Frames nearest to a text (CLIP's text encoder), within the query's filters.
  search: (text, q = "", limit = 60, signal) =>
    call(`/v1/curation/search?${new URLSearchParams({ text, q, limit })}`, { signal }),
  stats: () => call("/v1/curation/stats"),
};

export const imageUrl = (id) => `/v1/curation/frames/${encodeURIComponent(id)}/image`;
export const thumbnailUrl = (id, size = 256) => `/v1/curation/frames/${encodeURIComponent(id)}/thumbnail?size=${size}`;
