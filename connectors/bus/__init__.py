"""School buses at the edge: JT/T 808 terminals (codec and TCP gateway), the escort app's form,
and the GTFS-realtime feed transit tools read.

    jt808_frame     framing, escapes, header, errors, message ids, the platform's serial counter
    jt808_messages  the decoded bodies (LocationReport, Registration, …) and the 0x0200 flag bits
    jt808_decode    decode_frame, the named fields a fix means (`location_fields`), JSON for people
    jt808_encode    bodies and the platform's replies (gateway, simulator, tests)
    jt808_gateway   the asyncio TCP server
    escort          the escort app's "all off" form
    gtfs_realtime   VehiclePositions and TripUpdates over HTTP
"""
