import { describe, expect, it } from 'vitest';
import { Rooms } from '../../src/ws/rooms.js';

describe('Rooms', () => {
  it('when an event is routed, then members of its extension and every-extension members get it, others not', () => {
    const rooms = new Rooms<string>();
    rooms.join('a122', '122');
    rooms.join('b122', '122');
    rooms.join('a123', '123');
    rooms.join('sup', null);
    const got: string[] = [];
    rooms.forEachRecipient('122', (m) => got.push(m));
    expect(got).toEqual(['a122', 'b122', 'sup']);
    const other: string[] = [];
    rooms.forEachRecipient('999', (m) => other.push(m));
    expect(other).toEqual(['sup']);
  });

  it('when the last member leaves, then the extension room is gone', () => {
    const rooms = new Rooms<string>();
    rooms.join('a', '122');
    rooms.leave('a', '122');
    rooms.leave('a', '122');
    rooms.leave('nobody', '555');
    // An empty room left behind would be a leak nothing else can see, so the test looks at the map itself.
    expect([...rooms['byExtension'].keys()]).toEqual([]);
  });

  it('when a member leaves during routing, then routing carries on safely', () => {
    const rooms = new Rooms<string>();
    rooms.join('a', '1');
    rooms.join('b', '1');
    const got: string[] = [];
    rooms.forEachRecipient('1', (m) => {
      got.push(m);
      rooms.leave('a', '1');
    });
    expect(got).toEqual(['a', 'b']);
  });
});
