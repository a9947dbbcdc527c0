/** The kinds `reach import` reads (run.ts maps each to its importer); light, so the CLI can list them without loading the importers. */
export const KINDS = ["virtualbox", "vagrant", "qemu", "libvirt", "compose", "docker", "linux"] as const;
export type Kind = (typeof KINDS)[number];
