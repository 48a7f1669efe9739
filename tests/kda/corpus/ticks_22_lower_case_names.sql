-- Unquoted lower-case names throughout: KDA reads them upper-cased.
create source "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "sector" VARCHAR, "change" DOUBLE, "price" DOUBLE
) with (connector = 'file', path = '$DATA/ticks.json');

create or replace stream destination_sql_stream (ticker_symbol varchar(4), avg_change double);
create or replace pump stream_pump as insert into destination_sql_stream
    select stream ticker_symbol, avg(change)
    from source_sql_stream_001
    group by ticker_symbol, step(source_sql_stream_001.rowtime by interval '30' second);
