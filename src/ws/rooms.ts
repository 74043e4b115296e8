/** Who receives an event: the members on its extension, plus the members who see every extension. */
export class Rooms<T> {
  private readonly byExtension = new Map<string, Set<T>>();
  private readonly everyExtension = new Set<T>();

  /** `extension` null: the member sees every extension (a supervisor). */
  join(member: T, extension: string | null): void {
    if (extension === null) {
      this.everyExtension.add(member);
      return;
    }
    let room = this.byExtension.get(extension);
    if (!room) this.byExtension.set(extension, (room = new Set()));
    room.add(member);
  }

  leave(member: T, extension: string | null): void {
    if (extension === null) {
      this.everyExtension.delete(member);
      return;
    }
    const room = this.byExtension.get(extension);
    if (!room) return;
    room.delete(member);
    if (room.size === 0) this.byExtension.delete(extension);
  }

  /** Calls `fn` for every member an event on `extension` goes to; members may leave while this runs. */
  forEachRecipient(extension: string, fn: (member: T) => void): void {
    const room = this.byExtension.get(extension);
    if (room) for (const member of room) fn(member);
    for (const member of this.everyExtension) fn(member);
  }
}
