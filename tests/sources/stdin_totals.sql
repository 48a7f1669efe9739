-- Totals per user over everything read from stdin (one arrival-time window holds it all).
CREATE SOURCE events (user VARCHAR, amount BIGINT) WITH (connector = 'stdin');
CREATE SINK console WITH (connector = 'stdout', format = 'json');
INSERT INTO console
SELECT user, sum(amount) AS total
FROM TUMBLE(events, arrival_time, INTERVAL '1 hour')
GROUP BY window_start, user;
