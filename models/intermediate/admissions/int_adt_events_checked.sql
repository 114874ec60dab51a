with

events as (
    select * from {{ ref('stg_adt__events') }}
),

department_extract_rows as (
    select * from {{ ref('stg_departments__extract_rows') }}
),

-- every (hospital, department) pair seen in at least one accepted extract row
known_departments as (
    select distinct
        hospital_id,
        department_id
    from department_extract_rows
    where reject_rule is null
),

-- rule 3: only the first landed row of an event_id counts, every later copy is a duplicate
events_ranked as (
    select
        events.load_id,
        events.loaded_at,
        events.source_file,
        events.file_md5,
        events.line_number,
        events.event_id,
        events.event_type,
        events.event_ts_raw,
        events.event_at,
        events.encounter_id,
        events.patient_id,
        events.hospital_id,
        events.department_id,
        events.bed_id,
        events.gender,
        events.date_of_birth,
        events.reported_age_raw,
        events.age_at_event,
        events.is_age_invalid,
        events.insurance_type,
        events.arrival_mode,
        events.extra_attributes,
        events.event is null as is_invalid_json,
        known_departments.department_id is not null as is_known_department,
        events.event_id is not null and row_number() over (
            partition by events.event_id
            order by events.loaded_at, events.source_file, events.line_number, events.file_md5
        ) > 1 as is_duplicate
    from events
    left join known_departments
        on
            events.hospital_id = known_departments.hospital_id
            and events.department_id = known_departments.department_id
),

-- rules 1 to 10 depend on the row alone, its event_id's first copy and the departments
events_checked_alone as (
    select
        *,
        case
            when is_invalid_json then 'invalid_json'
            when event_id is null then 'missing_event_id'
            when is_duplicate then 'duplicate_event_id'
            when event_type is null then 'unknown_event_type'
            when encounter_id is null then 'missing_encounter_id'
            when patient_id is null then 'missing_patient_id'
            when event_ts_raw is null or btrim(event_ts_raw) = '' then 'missing_event_ts'
            when event_at is null then 'invalid_event_ts'
            when event_at > loaded_at then 'future_event_ts'
            when not is_known_department then 'unknown_department'
        end as row_reject_rule
    from events_ranked
),

-- rule 11 compares a DISCHARGE with the earliest ADMIT of its encounter that passed rules 1-10
encounter_admissions_compared as (
    select
        *,
        min(event_at) filter (
            where event_type = 'ADMIT' and row_reject_rule is null
        ) over (partition by encounter_id) as first_admitted_at
    from events_checked_alone
),

events_checked as (
    select
        load_id,
        loaded_at,
        source_file,
        file_md5,
        line_number,
        event_id,
        event_type,
        event_ts_raw,
        event_at,
        encounter_id,
        patient_id,
        hospital_id,
        department_id,
        bed_id,
        gender,
        date_of_birth,
        reported_age_raw,
        age_at_event,
        is_age_invalid,
        insurance_type,
        arrival_mode,
        extra_attributes,
        case
            when row_reject_rule is not null then row_reject_rule
            when event_type = 'DISCHARGE' and event_at < first_admitted_at
                then 'discharge_before_admission'
        end as reject_rule
    from encounter_admissions_compared
)

select * from events_checked
