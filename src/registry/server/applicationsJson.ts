/** One instance already encoded as JSON text, with the app it belongs to. */
export interface InstanceJson {
  /** The app name, upper case. */
  readonly app: string;
  /** `JSON.stringify` of the instance's wire form. */
  readonly json: string;
}

/**
 * `JSON.stringify(encodeApplications(...))` assembled from instances encoded beforehand: the same bytes
 * (a test holds the two together), but an instance that did not change since the last payload is not
 * encoded again, which is most of the cost of a delta or a full fetch built after every change.
 */
export function applicationsJson(instances: Iterable<InstanceJson>, versionsDelta: string | number, hashcode: string): string {
  const byApp = new Map<string, string[]>();
  for (const { app, json } of instances) {
    const list = byApp.get(app);
    if (list === undefined) byApp.set(app, [json]);
    else list.push(json);
  }
  const applications = [...byApp].map(([name, list]) => `{"name":${JSON.stringify(name)},"instance":[${list.join(',')}]}`);
  return (
    `{"applications":{"versions__delta":${JSON.stringify(String(versionsDelta))},` +
    `"apps__hashcode":${JSON.stringify(hashcode)},"application":[${applications.join(',')}]}}`
  );
}
