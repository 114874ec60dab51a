with

events_checked as (
    select * from {{ ref('int_adt_events_checked') }}
),

events as (
    select * from {{ ref('stg_adt__events') }}
),

rejected_events as (
    select
        events_checked.load_id,
        events_checked.loaded_at,
        events_checked.source_file,
        events_checked.file_md5,
        events_checked.line_number,
        events_checked.reject_rule,
        events_checked.event_id,
        events_checked.event_type,
        events.event_type_raw,
        events_checked.event_ts_raw,
        events_checked.event_at,
        events_checked.encounter_id,
        events_checked.patient_id,
        events_checked.hospital_id,
        events_checked.department_id,
        events_checked.reported_age_raw,
        events.event,
        events.raw_line
    from events_checked
    inner join events
        on
            events_checked.file_md5 = events.file_md5
            and events_checked.line_number = events.line_number
    where events_checked.reject_rule is not null
)

select * from rejected_events
