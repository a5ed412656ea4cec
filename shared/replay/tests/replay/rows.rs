//! The in-place row reader against `row_to_event`.

use order_embedded::store::row_to_event;
use order_replay::sqlite::{EVENT_COLUMNS, EventRow};

use crate::support::Log;

#[test]
fn the_in_place_row_reader_reads_every_row_as_row_to_event_does() {
    let log = Log::new(400);
    // One row that neither may accept.
    log.sql("UPDATE events SET event_id = 'not-a-ulid' WHERE position = 7");
    let conn = log.conn();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {EVENT_COLUMNS} FROM events ORDER BY stream_id, version"
        ))
        .unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut in_place = EventRow::default();
    let (mut same, mut refused) = (0, 0);
    while let Some(row) = rows.next().unwrap() {
        match (row_to_event(row), in_place.fill(row)) {
            (Ok((position, event)), Ok(())) => {
                assert_eq!((position, &event), (in_place.position(), in_place.event()));
                same += 1;
            }
            (Err(_), Err(_)) => refused += 1,
            (a, b) => panic!("row_to_event {a:?}, in place {b:?}"),
        }
    }
    assert_eq!((same + refused, refused), (log.generated.events, 1));
}
