{#-
    Bed location rule: an encounter is in a bed of department D at instant X when it has an
    accepted ADMIT or TRANSFER with event_at <= X (D = the department of the latest such event,
    by event_at then event_id) and no accepted DISCHARGE with event_at <= X. So each ADMIT or
    TRANSFER starts a stay that ends at the next ADMIT or TRANSFER of the encounter or at the
    encounter's first DISCHARGE, whichever comes first; stays that would start at or after that
    discharge, and zero-length stays (two moves at one instant), hold no bed at any instant.
-#}
with

adt_events as (
    select * from {{ ref('int_adt_events') }}
),

bed_moves_sequenced as (
    select
        encounter_id,
        event_id,
        patient_id,
        hospital_id,
        department_id,
        event_at,
        lead(event_at) over (
            partition by encounter_id
            order by event_at, event_id
        ) as next_move_at
    from adt_events
    where event_type in ('ADMIT', 'TRANSFER')
),

first_discharges as (
    select
        encounter_id,
        min(event_at) as first_discharged_at
    from adt_events
    where event_type = 'DISCHARGE'
    group by encounter_id
),

bed_stays_bounded as (
    select
        bed_moves_sequenced.encounter_id,
        bed_moves_sequenced.event_id as started_by_event_id,
        bed_moves_sequenced.patient_id,
        bed_moves_sequenced.hospital_id,
        bed_moves_sequenced.department_id,
        bed_moves_sequenced.event_at as stay_started_at,
        first_discharges.first_discharged_at,
        -- least() ignores nulls: null only when neither a later move nor a discharge exists
        least(bed_moves_sequenced.next_move_at, first_discharges.first_discharged_at) as stay_ended_at
    from bed_moves_sequenced
    left join first_discharges
        on bed_moves_sequenced.encounter_id = first_discharges.encounter_id
),

bed_stays as (
    select
        encounter_id,
        started_by_event_id,
        patient_id,
        hospital_id,
        department_id,
        stay_started_at,
        stay_ended_at,
        cast(
            row_number() over (partition by encounter_id order by stay_started_at, started_by_event_id)
            as integer
        ) as stay_number,
        case
            when stay_ended_at = first_discharged_at then 'discharge'
            when stay_ended_at is not null then 'transfer'
        end as stay_end_reason
    from bed_stays_bounded
    where stay_ended_at is null or stay_ended_at > stay_started_at
)

select * from bed_stays
