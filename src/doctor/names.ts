/** The sources `reach doctor` reads (cli.ts reads them); light, so the CLI can list them without loading the readers. */
export const SOURCES = ["host", "virtualbox", "docker", "libvirt", "qemu", "podman"] as const;
export type SourceName = (typeof SOURCES)[number];
